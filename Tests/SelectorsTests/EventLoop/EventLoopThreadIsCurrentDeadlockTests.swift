import CSelectors
import Selectors
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `EventLoopThread.isCurrent` ("whether the calling thread is this loop's") takes the lock
/// that `join()` holds for as long as it waits in `pthread_join`. Code on the loop thread that
/// asks `isCurrent` while another thread is in `join()`/`shutdown()` (a task of the last
/// iteration, or one the thread runs after `run()` returned) blocks on that lock, and the
/// joiner waits for the loop thread forever: a deadlock.
///
/// `shutdown()` runs on a detached thread so that the test ends (and fails) after its time
/// limit instead of hanging; on failure that thread and the loop thread stay blocked.
@Suite struct EventLoopThreadIsCurrentDeadlockTests {
    @Test func isCurrentOnTheLoopThreadWhileAnotherThreadJoinsAnswers() throws {
        let thread = try EventLoopThread(name: uniqueThreadName("iscur-"))
        let started = SharedFlag()
        let answered = Shared<Bool?>(nil)
        try thread.loop.execute { [thread] in
            started.set()
            // Long enough for the other thread to be inside join().
            sleep(for: .milliseconds(300))
            let current = thread.isCurrent
            answered.withLock { $0 = current }
        }
        #expect(isCurrentWithin(.seconds(5)) { started.isSet })
        let shutDown = SharedFlag()
        isCurrentDetached { [thread] in
            thread.shutdown()
            shutDown.set()
        }
        #expect(
            isCurrentWithin(.seconds(5)) { shutDown.isSet },
            "shutdown() did not return: the loop thread waits in isCurrent for the lock join() holds")
        #expect(answered.value == true)
    }

    /// The same through a task accepted just before `stop()`, which the thread runs after
    /// `run()` returned (`closeRunningAcceptedTasks`) while `shutdown()` already joins.
    @Test func isCurrentInATaskRunAtShutdownAnswers() throws {
        let thread = try EventLoopThread(name: uniqueThreadName("iscur2-"))
        let answered = Shared<Bool?>(nil)
        try thread.loop.execute { sleep(for: .milliseconds(100)) }
        try thread.loop.execute { [thread] in
            sleep(for: .milliseconds(100))
            let current = thread.isCurrent
            answered.withLock { $0 = current }
        }
        let shutDown = SharedFlag()
        isCurrentDetached { [thread] in
            thread.shutdown()
            shutDown.set()
        }
        #expect(
            isCurrentWithin(.seconds(5)) { shutDown.isSet },
            "shutdown() did not return: the loop thread waits in isCurrent for the lock join() holds")
        #expect(answered.value == true)
    }
}

/// Starts `body` on a detached POSIX thread (leaked if it never returns).
private func isCurrentDetached(_ body: @escaping @Sendable () -> Void) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread, nil,
        { context in
            Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, context)
    precondition(result == 0, "pthread_create failed: \(result)")
    pthread_detach(thread)
}

/// Polls `condition` every millisecond until it holds or `limit` passes.
private func isCurrentWithin(_ limit: Duration, _ condition: () -> Bool) -> Bool {
    let deadline = LoopInstant.now.advanced(by: limit)
    while !condition() {
        if LoopInstant.now >= deadline { return false }
        sleep(for: .milliseconds(1))
    }
    return true
}
