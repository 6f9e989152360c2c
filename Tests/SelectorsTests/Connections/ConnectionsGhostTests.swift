import CSelectors
import Selectors
import Testing

/// `Connections` closes a connection's fd without removing its registration first where the
/// close removes it (epoll: no `EPOLL_CTL_DEL`, as C servers do). When another descriptor
/// keeps the file open, the registration lives on as a ghost under the dead number; these
/// check that it neither spins the loop, nor goes on waking it (edge mode: at each new byte),
/// nor reaches the connection that takes the number next.
@Suite struct ConnectionsGhostTests {
    @Test(arguments: Backend.available, connectionTriggers)
    func aClosedConnectionWhoseFileStaysOpenLeavesNoGhostBehind(backend: Backend, trigger: Trigger) throws {
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
                // at every wait until the interest set is rebuilt without it.
                try writeAll(peer, "x")
                let (next, nextPeer) = try fds.socketPair()
                let served = try fds.handOver(next, to: connections)
                let quiet = try iterations(of: loop, over: .milliseconds(200))
                // A wait or two for the ghost to be noticed and dropped, then the timer's.
                #expect(quiet <= 20, "\(quiet) iterations in 200 ms")

                // New bytes for the ghost's file, every 10 ms: an edge-triggered ghost would
                // wake the loop at each one.
                let woken = try withBackgroundThread({
                    for _ in 0..<30 {
                        _ = try? writeAll(peer, "y")
                        usleep(10_000)
                    }
                }) { try iterations(of: loop, over: .milliseconds(400)) }
                #expect(woken <= 10, "\(woken) iterations in 400 ms of bytes for the ghost")
                #expect(log.notices(of: closed) == [.closed(.aborted)], "the ghost reaches no handler")

                try writeAll(nextPeer, [1, 2, 3])
                try runOnceUntil(loop) { log.receivedCount(of: served) == 3 }
                #expect(log.notices(of: served).isEmpty)
            }
        }
    }

    /// Dropping a ghost means rebuilding the interest set, which would re-arm a one-shot key
    /// that has reported: while one is registered, connections are removed the usual way.
    @Test(arguments: Backend.available)
    func aOneShotRegistrationIsNotReArmedByAClosedConnection(backend: Backend) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            _ = try fds.duplicate(server, atLeast: 0)
            let (watched, watchedPeer) = try fds.socketPair()
            try writeAll(watchedPeer, "r")  // readable for good
            try withConnections(backend: backend, options: connectionOptions(.level)) {
                loop, connections, log in
                var reports = 0
                try loop.register(watched, events: .read, trigger: .oneShot) { _, _ in reports += 1 }
                let closed = try fds.handOver(server, to: connections)
                try runOnceUntil(loop) { reports == 1 }
                closed.abort()
                try runOnceUntil(loop) { log.end(of: closed) != nil }
                try writeAll(peer, "x")  // would wake a ghost, had there been one
                _ = try iterations(of: loop, over: .milliseconds(100))
                #expect(reports == 1, "a one-shot registration reports once until modified")
                try loop.unregister(watched)
            }
        }
    }

    /// How many iterations `loop` makes in `period` (a timer stops it).
    private func iterations(of loop: IsolatedEventLoop, over period: Duration) throws -> UInt64 {
        loop.schedule(after: period) { loop.stop() }
        let before = loop.metrics.iterations
        try runBounded(loop)
        return loop.metrics.iterations - before
    }
}
