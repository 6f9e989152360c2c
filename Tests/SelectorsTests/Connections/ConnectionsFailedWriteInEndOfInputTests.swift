import CSelectors
import Selectors
import Testing

/// A write the handler makes in `.endOfInput` fails (the peer closed altogether, so a Unix
/// socket's `send` says `EPIPE` at once). `Connection.write`: "Nothing is lost: a failure
/// closes the connection with `.closed(.failed(error))`". Without `halfClose` the connection
/// also closes by itself after `.endOfInput` once nothing is queued, and that close must not
/// hide the failure as an orderly `.closed(.peerClosed)` ("everything pending was written").
@Suite struct ConnectionsFailedWriteInEndOfInputTests {
    @Test(arguments: Backend.available, connectionTriggers)
    func aWriteThatFailsInsideEndOfInputEndsAsFailedNotPeerClosed(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                var writeError: (any Error)?
                log.reaction = { connection, event in
                    guard case .endOfInput = event else { return }
                    do { try log.calling { try connection.write("the answer") } } catch { writeError = error }
                }
                let connection = try fds.handOver(server, to: connections)
                try writeAll(peer, "a question")
                fds.close(peer)  // gone altogether: the answer cannot be delivered
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(writeError == nil, "the write itself does not throw: its failure is reported")
                #expect(
                    log.end(of: connection) == .failed(.brokenPipe),
                    "the answer was lost: \(log.notices(of: connection))")
                #expect(connections.counters.snapshot.peerClosed == 0)
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }
}
