import CSelectors
import Selectors
import Testing

/// `drain`: "queued output is written; then each gets a half-close (FIN) and closes when its
/// peer ends its side (`.closed(.peerClosed)`)". With `halfClose` (and always for
/// `AsyncConnection`s), a connection whose peer had ended its side *before* the drain, and
/// which still had output queued, must close once that output and the FIN are out: its peer
/// has ended already, so nothing else will come to end it before the deadline.
@Suite struct ConnectionsDrainHalfClosedTests {
    @Test(arguments: Backend.available, connectionTriggers)
    func aHalfClosedPeersConnectionClosesOnceDrainedNotAtTheDeadline(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try fds.shrinkSendBuffer(server)
            let options = connectionOptions(trigger) {
                $0.halfClose = true
                $0.highWaterMark = 4 << 20
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                _ = shutdown(peer, Int32(SHUT_WR))  // the request is complete
                try runOnceUntil(loop) { log.notices(of: connection).contains(.endOfInput) }
                let total = 512 * 1024
                try log.calling { try connection.write(patternBytes(from: 0, count: total)) }  // the answer
                #expect(connection.pendingOutputCount > 0)

                let deadline = LoopInstant.now.advanced(by: .seconds(3))
                var doneAt: LoopInstant?
                connections.drain(until: deadline) { doneAt = .now }
                let reader = StreamReader(peer)
                try runOnceUntil(loop, limit: .seconds(10)) {
                    _ = reader.readAvailable()
                    return doneAt != nil
                }
                let same = sameBytes(reader.bytes, patternBytes(from: 0, count: total))
                #expect(same, "the answer, whole: \(reader.bytes.count) of \(total)")
                #expect(log.end(of: connection) == .peerClosed, "\(log.notices(of: connection))")
                if let doneAt {
                    #expect(doneAt < deadline, "the drain waited for its deadline")
                }
            }
        }
    }
}
