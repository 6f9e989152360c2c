import CSelectors
import Selectors
import Testing

/// `AsyncConnections.drain` (a graceful shutdown) with tasks using the connections, on every
/// backend: what the tasks do then must not undo what the drain promises (everything written
/// is delivered; a peer whose input was dropped learns it by a reset; the drain ends when the
/// peers have gone, not at its deadline).
@Suite(.timeLimit(.minutes(2)), .aheadOfBlockingTests)
struct AsyncConnectionsDrainTests {
    /// A task waiting in `write` (the peer does not read, and sent input nobody read) fails
    /// when the drain begins, and does what a task does then: `close()`. The peer must still
    /// receive every byte the connection wrote, then a reset (its input was dropped).
    @Test(arguments: Backend.available)
    func aCloseFromATaskTheDrainFailedDestroysNothingWritten(backend: Backend) async throws {
        // Small kernel buffers, but not tiny: on loopback TCP, tiny windows meet delayed
        // acknowledgements and crawl.
        try await withBackpressuredConnection(backend, over: .tcp, kernelBuffers: 32 * 1024) {
            loop, pool, connection, peer in
            try await Peer.write(peer, patternBytes(4_000, seed: 1))  // never read by us
            let writer = Task(executorPreference: loop) {
                do {
                    try await connection.write(patternBytes(512 * 1024, seed: 2))
                } catch {
                    connection.close()
                    throw error
                }
            }
            try await until("the writer waiting") { try await waiterCount(pool) == 1 }
            let drained = SharedFlag()
            try await onLoopThread(loop) { io in
                // A deadline no run reaches: at the deadline the drain resets what is left,
                // as it should, and this test is about what happens before it. (Under
                // ThreadSanitizer the suite's tasks can wait minutes for the cooperative pool,
                // and a 10-second deadline cut the peer's data short.)
                pool.drain(until: io.now.advanced(by: .seconds(600))) { drained.set() }
            }
            #expect(failed(await outcome(of: writer), with: .connectionClosed))
            let end = try await within { try await Peer.readToEnd(peer) }
            let sent = pool.counters.snapshot.bytesSent
            #expect(
                UInt64(end.bytes.count) == sent, "the peer got \(end.bytes.count) of \(sent) bytes written")
            #expect(sameBytes(end.bytes, Array(patternBytes(512 * 1024, seed: 2).prefix(end.bytes.count))))
            #expect(end.reset, "the peer's dropped input was not signalled by a reset")
            try await until("the drain finished") { drained.isSet }
        }
    }

    /// A task that was not waiting when the drain began (it was busy elsewhere) then reads:
    /// it is told the connection is closing, as the waiting ones were, and does not get the
    /// input the drain drops.
    @Test(arguments: Backend.available)
    func aTaskThatReadsAfterTheDrainBeganIsToldItIsClosing(backend: Backend) async throws {
        try await withPooledConnection(backend) { loop, pool, connection, peer in
            try await Peer.write(peer, "sent before the drain")
            try await onLoopThread(loop) { io in
                pool.drain(until: io.now.advanced(by: .seconds(10))) {}
            }
            let reader = Task(executorPreference: loop) { try await connection.read(upTo: 100) }
            let result = await outcome(of: reader)
            #expect(failed(result, with: .connectionClosed), "\(String(describing: result))")
        }
    }

    /// The drain has half-closed a connection and waits for its peer's end: when the peer
    /// closes, the drain ends at once, not at its deadline, on every backend (with poll and
    /// select the loop must watch a draining connection for reading although no task waits).
    @Test(arguments: Backend.available)
    func theDrainEndsWhenThePeerClosesNotAtTheDeadline(backend: Backend) async throws {
        try await withBackpressuredConnection(backend, over: .tcp, kernelBuffers: 32 * 1024) {
            loop, pool, connection, peer in
            let message = patternBytes(512 * 1024, seed: 3)
            try await within(on: loop) { try message.withUnsafeBytes { try connection.send($0) } }
            #expect(try await pendingOutput(connection) > 0)
            // When the drain ended, taken there (the test's own view may lag).
            let drainedAt = Locked<ContinuousClock.Instant?>(nil)
            try await onLoopThread(loop) { io in
                // Far off, as above: only the peer's close may end this drain.
                pool.drain(until: io.now.advanced(by: .seconds(600))) {
                    drainedAt.withLock { $0 = ContinuousClock.now }
                }
            }
            // The peer reads everything and the drain's end of stream, then closes.
            let end = try await within { try await Peer.readToEnd(peer) }
            #expect(sameBytes(end.bytes, message) && !end.reset)
            let closedAt = ContinuousClock.now
            try Socket.shutdownWrite(peer)
            try await until("the drain finished") { drainedAt.withLock { $0 != nil } }
            let took = drainedAt.withLock { $0! } - closedAt
            #expect(took < .seconds(2), "the drain ended \(took) after the peer closed")
            #expect(try await onLoopThread(loop) { _ in pool.count } == 0)
        }
    }
}
