import CSelectors
import Selectors
import Testing

/// An `OutputBudget` given to `AsyncConnections` (as the echo server's `--api async` does):
/// "once the sum passes the high mark, every `Connections` sharing the budget stops reading
/// from every connection". Tasks read through the pool, so their reads must wait too.
@Suite(.timeLimit(.minutes(2)))
struct AsyncBudgetTests {
    @Test(arguments: Backend.available)
    func aBudgetOverItsHighMarkStopsTasksReadingUntilItDrains(backend: Backend) async throws {
        try await withLoopThread(backend) { thread in
            let loop = thread.loop
            let budget = try OutputBudget(high: 64 * 1024, low: 16 * 1024)
            var options = Connections.Options()
            options.budget = budget
            options.highWaterMark = 4 * 1024 * 1024
            let pool = try await makePool(loop, options)
            let (fullOurs, fullPeer) = try Socket.makePair()
            defer { Socket.close(fullPeer) }
            let (quietOurs, quietPeer) = try Socket.makePair()
            defer { Socket.close(quietPeer) }
            let filling = try await pool.adopt(fullOurs)
            let quiet = try await pool.adopt(quietOurs)

            // A megabyte its peer does not read yet: most of it queues, past the budget.
            let message = patternBytes(1 << 20, seed: 7)
            try await finish(
                Task(executorPreference: loop) { try message.withUnsafeBytes { try filling.send($0) } })
            #expect(budget.bufferBytes > 64 * 1024)
            #expect(budget.readPauses == 1)

            try await Peer.write(quietPeer, "hello")
            let reading = Task(executorPreference: loop) { try await quiet.read(upTo: 100) }
            try await Task.sleep(for: .milliseconds(200))
            #expect(pool.counters.snapshot.bytesReceived == 0, "over budget: nobody reads")

            let echoed = try await Peer.read(fullPeer, count: message.count)
            #expect(sameBytes(echoed, message))
            #expect(
                try await finish(reading) == Array("hello".utf8), "reading resumed once the budget drained")
            filling.close()
            quiet.close()
        }
    }
}
