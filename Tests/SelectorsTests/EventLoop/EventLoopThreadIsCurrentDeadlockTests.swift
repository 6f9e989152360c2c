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
        #expect(holds(within: .seconds(5)) { started.isSet })
        expectShutdownReturns(thread, answered)
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
        expectShutdownReturns(thread, answered)
    }

    /// Shuts `thread` down from another thread; it must return, and the loop thread's
    /// `isCurrent` must have answered true.
    private func expectShutdownReturns(
        _ thread: EventLoopThread, _ answered: Shared<Bool?>,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let shutDown = SharedFlag()
        startDetachedThread { [thread] in
            thread.shutdown()
            shutDown.set()
        }
        #expect(
            holds(within: .seconds(5)) { shutDown.isSet },
            "shutdown() did not return: the loop thread waits in isCurrent for the lock join() holds",
            sourceLocation: sourceLocation)
        #expect(answered.value == true, sourceLocation: sourceLocation)
    }
}
