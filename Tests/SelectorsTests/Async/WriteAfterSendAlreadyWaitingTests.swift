import CSelectors
import Synchronization
import Testing

@testable import Selectors

/// `AsyncConnection.write` promises `alreadyWaiting` "with nothing sent" (so a caller may try
/// again without sending twice). A writer whose drain wait was just resumed, but whose task
/// has not run yet, can find that another writer started waiting meanwhile: its re-wait then
/// throws `alreadyWaiting` although all its bytes were sent: a retry duplicates them.
@Suite(.timeLimit(.minutes(5)), .aheadOfBlockingTests)
struct WriteAfterSendAlreadyWaitingTests {
    @Test
    func aWriteWhoseBytesWereSentNeverThrowsAlreadyWaiting() async throws {
        var options = Connections.Options()
        options.highWaterMark = 64 * 1024
        options.lowWaterMark = 16 * 1024
        try await withPooledConnection(.epoll, options) { loop, pool, connection, peer in
            let (x, xPeer) = try Socket.makePair()
            defer {
                Socket.close(x)
                Socket.close(xPeer)
            }
            // The kernel's buffer full, so everything A writes is queued.
            _ = try fillSocketUntilFull(connection.fd)
            let a = Task(executorPreference: loop) {
                try await connection.write(patternBytes(64 * 1024 + 1))
            }
            try await until("A waits for the drain") {
                try await onLoopThread(loop) { _ in pool.waiterCount } == 1
            }
            let b = Task(executorPreference: loop) {
                try await loop.readable(x)
                try await connection.write(patternBytes(4 * 1024 * 1024, seed: 1))
            }
            try await until("B waits for x") { try await readinessWaiterCount(loop) == 1 }
            // While the loop is blocked: x becomes readable first, then the connection writable
            // with room for all of A's queue, so one iteration resumes B, then A.
            let blocker = try await LoopBlocker(loop)
            try writeAll(xPeer, "go")
            _ = try readAvailableNow(peer)
            blocker.release()
            let resultA = await outcome(of: a, within: .seconds(10))
            #expect(
                !failed(resultA, with: .alreadyWaiting),
                "A's bytes were all sent: \(String(describing: resultA))")
            b.cancel()
            _ = await outcome(of: b, within: .seconds(10))
            connection.abort()
            try await withLoopThreadUnregister(loop, x)
        }
    }
}
