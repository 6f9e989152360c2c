import CSelectors
import Selectors
import Testing

/// `Connections` closes a connection's fd without removing its registration first where the
/// close removes it (epoll: no `EPOLL_CTL_DEL`, as C servers do). When another descriptor
/// keeps the file open, the registration lives on as a ghost under the dead number; these
/// check that it neither spins the loop nor reaches the connection that takes the number next.
@Suite struct ConnectionsGhostTests {
    @Test(arguments: Backend.available, connectionTriggers)
    func aClosedConnectionWhoseFileStaysOpenLeavesNoSpinningGhost(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            // Keeps the file open after the connection closes its fd.
            _ = try fds.duplicate(server, atLeast: 0)
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let closed = try fds.handOver(server, to: connections)
                closed.abort()
                try runOnceUntil(loop) { log.end(of: closed) != nil }
                // Readable for good (nobody reads the file): a level-triggered ghost reports
                // at every wait until the interest set is rebuilt.
                try writeAll(peer, "x")
                let (next, nextPeer) = try fds.socketPair()
                let served = try fds.handOver(next, to: connections)

                let period = Duration.milliseconds(200)
                loop.schedule(after: period) { loop.stop() }
                let iterationsBefore = loop.metrics.iterations
                try runBounded(loop)
                let iterations = loop.metrics.iterations - iterationsBefore
                // A wait or two for the ghost to be noticed and dropped, then the timer's.
                #expect(iterations <= 20, "\(iterations) iterations in \(period)")
                #expect(log.notices(of: closed) == [.closed(.aborted)], "the ghost reaches no handler")

                try writeAll(nextPeer, [1, 2, 3])
                try runOnceUntil(loop) { log.receivedCount(of: served) == 3 }
                #expect(log.notices(of: served).isEmpty)
            }
        }
    }
}
