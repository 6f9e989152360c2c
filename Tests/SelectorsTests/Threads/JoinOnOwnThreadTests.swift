import Selectors
import Testing

/// A loop's thread cannot wait for itself to end. `join()` there used to trap (a
/// precondition), killing the process for a handler's mistake; it now throws, names the
/// operation, and waits for nothing, and the loop goes on.
@Suite struct JoinOnOwnThreadTests {
    private static let reason = SelectorError.Reason.invalidArgument(
        "called on the loop's own thread, which cannot wait for itself to end")

    @Test(arguments: Backend.available)
    func joinOnTheLoopsOwnThreadThrowsAndTheLoopGoesOn(backend: Backend) throws {
        let thread = try EventLoopThread(name: uniqueThreadName("join-self-"), backend: backend)
        let failure = Locked<SelectorError?>(nil)
        try thread.loop.execute {
            do throws(SelectorError) { try thread.join() } catch { failure.withLock { $0 = error } }
        }
        eventually { failure.withLock { $0 != nil } }
        #expect(failure.withLock { $0 } == SelectorError(.join, fd: nil, Self.reason))
        #expect(failure.withLock { $0?.description.hasPrefix("join(") } == true)
        #expect(thread.isRunning)
        // Still serving: a task submitted now runs.
        let ran = SharedCounter()
        try thread.loop.execute { ran.increment() }
        eventually { ran.value == 1 }
        thread.stop()
        try thread.join()
        #expect(!thread.isRunning)
    }

    @Test func groupJoinOnOneOfItsLoopsThrowsAndWaitsForNothing() throws {
        let group = try EventLoopGroup(threads: 2)
        let failure = Locked<SelectorError?>(nil)
        try group.threads[1].loop.execute {
            do throws(SelectorError) { try group.join() } catch { failure.withLock { $0 = error } }
        }
        eventually { failure.withLock { $0 != nil } }
        #expect(failure.withLock { $0 } == SelectorError(.join, fd: nil, Self.reason))
        #expect(group.threads.allSatisfy { $0.isRunning })
        group.shutdown()
        #expect(group.threads.allSatisfy { !$0.isRunning })
    }
}
