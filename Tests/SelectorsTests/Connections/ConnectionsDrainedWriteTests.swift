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
        try withDescriptors { fds in
            let (server, peer) = try fds.tcpLoopbackPair()
            try fds.shrinkSendBuffer(server)
            try fds.shrinkReceiveBuffer(peer)
            let first = 64 * 1024
            let second = 64 * 1024
            let payload = patternBytes(from: 0, count: first + second)
            let options = connectionOptions(trigger) {
                $0.highWaterMark = 1
                $0.lowWaterMark = 0
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                var wroteSecond = false
                log.reaction = { connection, event in
                    guard case .outputDrained = event, !wroteSecond else { return }
                    wroteSecond = true
                    try? log.calling { try connection.write(payload[first...]) }
                    log.calling { connection.close() }
                }
                let connection = try fds.handOver(server, to: connections)
                try log.calling { try connection.write(payload[..<first]) }
                #expect(connection.pendingOutputCount > 0, "the kernel did not take it all at once")
                let (bytes, end) = try readToEnd(peer, running: loop)
                #expect(wroteSecond)
                #expect(end == .endOfFile, "an orderly end, not a reset")
                #expect(bytes.count == payload.count, "every byte: got \(bytes.count) of \(payload.count)")
                let same = sameBytes(bytes, payload)
                #expect(same, "once, in order")
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.end(of: connection) == .closed)
                #expect(connections.counters.snapshot.resetsSent == 0, "nothing was lost")
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    /// The peer has ended its side (no half-close), so the connection closes once its queue
    /// is written; `.outputDrained` writes more first: that must be written too, not dropped
    /// with a reset under `.closed(.peerClosed)`.
    @Test(arguments: Backend.available, connectionTriggers)
    func bytesWrittenInsideOutputDrainedAfterThePeersEndAreWrittenBeforeTheClose(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.tcpLoopbackPair()
            try fds.shrinkSendBuffer(server)
            try fds.shrinkReceiveBuffer(peer)
            let first = 64 * 1024
            let second = 64 * 1024
            let payload = patternBytes(from: 0, count: first + second)
            let options = connectionOptions(trigger) {
                $0.highWaterMark = 1
                $0.lowWaterMark = 0
                $0.pausesReadingWhenFull = false  // so the peer's end is seen while full
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                var wroteSecond = false
                log.reaction = { connection, event in
                    guard case .outputDrained = event, !wroteSecond else { return }
                    wroteSecond = true
                    try? log.calling { try connection.write(payload[first...]) }
                }
                let connection = try fds.handOver(server, to: connections)
                try log.calling { try connection.write(payload[..<first]) }
                #expect(connection.pendingOutputCount > 0)
                _ = shutdown(peer, Int32(SHUT_WR))
                try runOnceUntil(loop) { log.notices(of: connection).contains(.endOfInput) }
                let (bytes, end) = try readToEnd(peer, running: loop)
                #expect(wroteSecond)
                #expect(end == .endOfFile, "an orderly end, not a reset")
                #expect(bytes.count == payload.count, "every byte: got \(bytes.count) of \(payload.count)")
                let same = sameBytes(bytes, payload)
                #expect(same, "once, in order")
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.end(of: connection) == .peerClosed)
                #expect(connections.counters.snapshot.resetsSent == 0, "nothing was lost")
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    /// `shutdownOutput()` inside `.outputDrained` after a last chunk: the end of stream must
    /// follow the chunk, not cut it off (`EPIPE` on the next flush).
    @Test(arguments: Backend.available, connectionTriggers)
    func shutdownOutputInsideOutputDrainedAfterALastChunkSendsTheChunkFirst(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.tcpLoopbackPair()
            try fds.shrinkSendBuffer(server)
            try fds.shrinkReceiveBuffer(peer)
            let first = 64 * 1024
            let second = 64 * 1024
            let payload = patternBytes(from: 0, count: first + second)
            let options = connectionOptions(trigger) {
                $0.highWaterMark = 1
                $0.lowWaterMark = 0
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                var wroteSecond = false
                log.reaction = { connection, event in
                    guard case .outputDrained = event, !wroteSecond else { return }
                    wroteSecond = true
                    try? log.calling { try connection.write(payload[first...]) }
                    log.calling { connection.shutdownOutput() }
                }
                let connection = try fds.handOver(server, to: connections)
                try log.calling { try connection.write(payload[..<first]) }
                let (bytes, end) = try readToEnd(peer, running: loop)
                #expect(wroteSecond)
                #expect(end == .endOfFile)
                #expect(bytes.count == payload.count, "every byte: got \(bytes.count) of \(payload.count)")
                let same = sameBytes(bytes, payload)
                #expect(same)
                for _ in 0..<5 { try loop.runOnce(timeout: .milliseconds(5)) }
                #expect(
                    log.end(of: connection) == nil, "half-closed, still open: \(log.notices(of: connection))")
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }
}
