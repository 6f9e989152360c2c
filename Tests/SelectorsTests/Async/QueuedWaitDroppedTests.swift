import CSelectors
import Synchronization
import Testing

@testable import Selectors

/// A readiness wait requested from another thread whose `execute` closure is still queued
/// when the loop is closed with `IsolatedEventLoop.close()` (not by an `EventLoopThread`
/// ending, which runs the accepted tasks first). `close()` drops queued closures; the wait
/// must end with `loopClosed`, not hang.
@Suite(.timeLimit(.minutes(5)), .aheadOfBlockingTests)
struct QueuedWaitDroppedTests {
    @Test(arguments: Backend.available)
    func aQueuedWaitDroppedByCloseEndsWithLoopClosed(backend: Backend) async throws {
        let thread = try EventLoopThread(name: "h1-close", backend: backend)
        defer { thread.shutdown() }
        let loop = thread.loop
        let (ours, peer) = try Socket.makePair()
        defer {
            Socket.close(peer)
            Socket.close(ours)
        }
        // A closure that blocks the loop until released, then closes the loop from inside.
        let gate = Locked(false)
        let entered = Atomic<Bool>(false)
        try loop.execute {
            entered.store(true, ordering: .releasing)
            while !gate.withLock({ $0 }) { usleep(200) }
            loop.assumeIsolated().close()
        }
        try await until("the loop blocked") { entered.load(ordering: .acquiring) }
        let waiter = Task { try await loop.readable(ours) }
        try await until("the wait's request queued") { hasQueuedWork(loop) }
        gate.withLock { $0 = true }
        let result = await outcome(of: waiter, within: .seconds(5))
        #expect(failed(result, with: .loopClosed), "\(String(describing: result))")
    }
}
