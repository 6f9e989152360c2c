import CSelectors
import Selectors
import Testing

/// `ConnectionEnd.peerClosed`: "The peer ended its side and everything pending was written
/// (`.endOfInput` came first), whether the connection then closed by itself or the owner
/// closed it." A pipe's read end, half-closing, hears its writer's end; the owner then calls
/// `shutdownOutput()`, which closes a pipe: that close must end `.peerClosed`, as `close()`
/// does, not `.closed`.
@Suite struct ConnectionsPipeShutdownReasonTests {
    @Test(arguments: Backend.available, connectionTriggers)
    func aPipesReadEndShutDownAfterItsEndEndsAsPeerClosed(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try fds.pipe()
            let options = connectionOptions(trigger) { $0.halfClose = true }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(readEnd, to: connections)
                fds.close(writeEnd)
                try runOnceUntil(loop) { log.notices(of: connection).contains(.endOfInput) }
                log.calling { connection.shutdownOutput() }
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(
                    log.end(of: connection) == .peerClosed,
                    "the peer ended first: \(log.notices(of: connection))")
                #expect(connections.counters.snapshot.peerClosed == 1)
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }
}
