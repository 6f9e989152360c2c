import CSelectors
import Selectors
import Testing

/// Bytes written from inside `.outputDrained` when the flush that told it emptied the queue
/// entirely (always the case with `lowWaterMark: 0`): they must be written before any close
/// or end of stream the connection was waiting to do once its queue was empty.
@Suite struct ConnectionsDrainedWriteTests {
    /// `.outputDrained` writes a last chunk and closes: the peer must get every byte of both
    /// chunks then an orderly end, and the handler `.closed(.closed)`.
    @Test(arguments: Backend.available, connectionTriggers)
    func aLastChunkWrittenAndClosedInsideOutputDrainedIsDeliveredWhole(backend: Backend, trigger: Trigger)
        throws
    {
        try withSecondChunkWrittenInDrained(backend, trigger, then: { $0.close() }) {
            loop, connections, log, connection, peer, wroteSecond in
            #expect(connection.pendingOutputCount > 0, "the kernel did not take it all at once")
            try expectEveryByteThenAnOrderlyEnd(peer, loop, wroteSecond)
            try runOnceUntil(loop) { log.end(of: connection) != nil }
            #expect(log.end(of: connection) == .closed)
            #expect(connections.counters.snapshot.resetsSent == 0, "nothing was lost")
            #expect(log.violations.isEmpty, "\(log.violations)")
        }
    }

    /// The peer has ended its side (no half-close), so the connection closes once its queue
    /// is written; `.outputDrained` writes more first: that must be written too, not dropped
    /// with a reset under `.closed(.peerClosed)`.
    @Test(arguments: Backend.available, connectionTriggers)
    func bytesWrittenInsideOutputDrainedAfterThePeersEndAreWrittenBeforeTheClose(
        backend: Backend, trigger: Trigger
    ) throws {
        // Reading goes on while full, so the peer's end is seen while full.
        try withSecondChunkWrittenInDrained(backend, trigger, pausesReadingWhenFull: false, then: { _ in }) {
            loop, connections, log, connection, peer, wroteSecond in
            #expect(connection.pendingOutputCount > 0)
            _ = shutdown(peer, Int32(SHUT_WR))
            try runOnceUntil(loop) { log.notices(of: connection).contains(.endOfInput) }
            try expectEveryByteThenAnOrderlyEnd(peer, loop, wroteSecond)
            try runOnceUntil(loop) { log.end(of: connection) != nil }
            #expect(log.end(of: connection) == .peerClosed)
            #expect(connections.counters.snapshot.resetsSent == 0, "nothing was lost")
            #expect(log.violations.isEmpty, "\(log.violations)")
        }
    }

    /// `shutdownOutput()` inside `.outputDrained` after a last chunk: the end of stream must
    /// follow the chunk, not cut it off (`EPIPE` on the next flush).
    @Test(arguments: Backend.available, connectionTriggers)
    func shutdownOutputInsideOutputDrainedAfterALastChunkSendsTheChunkFirst(
        backend: Backend, trigger: Trigger
    ) throws {
        try withSecondChunkWrittenInDrained(backend, trigger, then: { $0.shutdownOutput() }) {
            loop, _, log, connection, peer, wroteSecond in
            try expectEveryByteThenAnOrderlyEnd(peer, loop, wroteSecond)
            for _ in 0..<5 { try loop.runOnce(timeout: .milliseconds(5)) }
            #expect(
                log.end(of: connection) == nil, "half-closed, still open: \(log.notices(of: connection))")
            #expect(log.violations.isEmpty, "\(log.violations)")
        }
    }

    // MARK: The shared scenario

    /// The first chunk fills the shrunk buffers; `.outputDrained` writes the second.
    private static let first = 64 * 1024
    private static let payload = patternBytes(from: 0, count: 2 * 64 * 1024)

    /// A TCP pair with the smallest buffers and both water marks at their lowest, the first
    /// chunk written: `.outputDrained` writes the second chunk once, then calls `then` (both
    /// through `log.calling`). `body` gets the loop, the pool, the log, the connection, the
    /// peer's fd, and whether the second chunk was written yet.
    private func withSecondChunkWrittenInDrained(
        _ backend: Backend, _ trigger: Trigger, pausesReadingWhenFull: Bool = true,
        then: @escaping (Connection) -> Void,
        _ body: (IsolatedEventLoop, Connections, ConnectionLog, Connection, Int32, () -> Bool) throws -> Void
    ) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.tcpLoopbackPair()
            try fds.shrinkSendBuffer(server)
            try fds.shrinkReceiveBuffer(peer)
            let options = connectionOptions(trigger) {
                $0.highWaterMark = 1
                $0.lowWaterMark = 0
                $0.pausesReadingWhenFull = pausesReadingWhenFull
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                var wroteSecond = false
                log.reaction = { connection, event in
                    guard case .outputDrained = event, !wroteSecond else { return }
                    wroteSecond = true
                    try? log.calling { try connection.write(Self.payload[Self.first...]) }
                    log.calling { then(connection) }
                }
                let connection = try fds.handOver(server, to: connections)
                try log.calling { try connection.write(Self.payload[..<Self.first]) }
                try body(loop, connections, log, connection, peer, { wroteSecond })
            }
        }
    }

    /// Reads the peer to its end, running the loop: both chunks, once, in order, then an
    /// orderly end (not a reset).
    private func expectEveryByteThenAnOrderlyEnd(
        _ peer: Int32, _ loop: IsolatedEventLoop, _ wroteSecond: () -> Bool
    ) throws {
        let (bytes, end) = try readToEnd(peer, running: loop)
        #expect(wroteSecond())
        #expect(end == .endOfFile, "an orderly end, not a reset")
        #expect(bytes.count == Self.payload.count, "every byte: got \(bytes.count) of \(Self.payload.count)")
        let same = sameBytes(bytes, Self.payload)
        #expect(same, "once, in order")
    }
}
