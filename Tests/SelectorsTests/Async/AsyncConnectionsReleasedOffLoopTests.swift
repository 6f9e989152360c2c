import CSelectors
import Synchronization
import Testing

@testable import Selectors

/// `AsyncConnections` is `Sendable`: a task may hold the last reference and drop it on any
/// thread. Its engine's deinit then edits the loop's close observers (loop-thread state)
/// from that thread, racing with the loop's own edits: a corrupted dictionary (a SIGSEGV in
/// `Dictionary.find` under ThreadSanitizer, which also reports the race itself; a plain run
/// rarely shows it).
@Suite(.timeLimit(.minutes(5)), .aheadOfBlockingTests)
struct AsyncConnectionsReleasedOffLoopTests {
    @Test
    func droppingAnAsyncConnectionsOffTheLoopDoesNotTouchLoopStateThere() async throws {
        try await withLoopThread(.epoll) { thread in
            let loop = thread.loop
            for _ in 0..<3 {
                // Made on the loop, handed to this task: the last reference is ours.
                let pools = try await onLoopThread(loop) { io in
                    PoolBox((0..<300).map { _ in try! AsyncConnections(on: io) })
                }
                // The loop adds and removes close observers meanwhile (as every new
                // `Connections`, `AcceptWatcher` or async accept watch does).
                let churning = Atomic<Bool>(true)
                try loop.execute {
                    let io = loop.assumeIsolated()
                    while churning.load(ordering: .acquiring) {
                        _ = (0..<50).map { _ in try! AsyncConnections(on: io) }
                    }
                }
                pools.pools.withLock { $0.removeAll() }  // 300 deinits, here, off the loop
                churning.store(false, ordering: .releasing)
                let left = try await onLoopThread(loop) { $0.eventLoop.closeObservers.count }
                #expect(left == 0)
                if left != 0 { break }
            }
        }
    }
}

private final class PoolBox: Sendable {
    let pools: Locked<[AsyncConnections]>
    init(_ pools: [AsyncConnections]) { self.pools = Locked(pools) }
}
