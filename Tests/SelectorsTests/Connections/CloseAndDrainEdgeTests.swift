import Selectors
import Testing

/// Closing without losing what was written: a `close()` whose peer speaks afterwards, a close
/// just before a drain, and the drain's own edges (a connection adopted while its deadline
/// closes everything, a write failure in the turn the drain begins). On every backend and
/// trigger.
@Suite(
    .timeLimit(.minutes(5)),
    .disabled(
        if: runsUnderThreadSanitizer,
        "single-threaded loop tests, covered by the plain run: under ThreadSanitizer their timed peers, on two cores, starved other suites past their limits"
    ))
struct CloseAndDrainEdgeTests {
    /// `drain`'s deadline runs `closeAll`; a `.closed` handler that adopts a connection then
    /// (an upstream pool reconnecting, say) gets one that `closeAll` has already passed over
    /// (its fd number is below the one being closed). The drain treats it as adopted during
    /// the drain (half-close, wait for the peer), but the deadline is over and nothing ends it:
    /// `done` does not come at the deadline, and may never come.
    @Test(arguments: Backend.available, connectionTriggers)
    func aConnectionAdoptedWhileTheDeadlineClosesEverythingDoesNotOutliveTheDrain(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            // Made first, so its number is below the busy connection's.
            let (spare, sparePeer) = try fds.socketPair()
            let (busyServer, busyPeer) = try fds.socketPair()
            #expect(spare < busyServer)
            _ = (sparePeer, busyPeer)
            let options = connectionOptions(trigger) { $0.highWaterMark = 4 * 1024 * 1024 }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let busy = try fds.handOver(busyServer, to: connections)
                // The peer reads nothing: the queue keeps the connection draining until the
                // deadline.
                try busy.write(patternBytes(from: 0, count: 1024 * 1024))
                #expect(busy.pendingOutputCount > 0)
                var adopted: Connection?
                log.reaction = { connection, event in
                    guard case .closed = event, connection == busy, adopted == nil else { return }
                    adopted = try? connections.adopt(spare)
                    fds.forget(spare)
                }
                var doneCalls = 0
                connections.drain(until: loop.now.advanced(by: .milliseconds(100))) { doneCalls += 1 }
                try runOnceUntil(loop, limit: .seconds(3)) { doneCalls > 0 }
                #expect(log.end(of: busy) == .aborted)
                #expect(adopted != nil)
                #expect(doneCalls == 1, "the drain is done at its deadline")
                if let adopted {
                    #expect(!adopted.isOpen, "nothing is left open after the drain's deadline")
                }
            }
        }
    }

    /// A write that fails closes the connection "with `.closed(.failed(error))` at the loop's
    /// next turn". A drain begun in the same turn ends it first, as `.closed(.closed)`, which
    /// means the owner closed it and the peer had not ended its side: neither is true.
    @Test(arguments: Backend.available, connectionTriggers)
    func aWriteFailureIsReportedAsTheEndEvenWhenADrainBeginsInTheSameTurn(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                fds.close(peer)
                // EPIPE: the connection fails, to close at the next turn.
                try log.calling { try connection.write("x") }
                var doneCalls = 0
                connections.drain(until: loop.now.advanced(by: .seconds(5))) { doneCalls += 1 }
                try runOnceUntil(loop, limit: .seconds(3)) { log.end(of: connection) != nil && doneCalls > 0 }
                #expect(log.notices(of: connection) == [.closed(.failed(.brokenPipe))])
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }
    /// A drain promises that a connection whose input is dropped is reset only "once the peer's
    /// kernel has acknowledged everything written, so nothing written is destroyed" (and it
    /// ignores a `close()` made during the drain for exactly that reason). A `close()` made just
    /// before the drain keeps the plain close path: reading stops, the queue is written, and the
    /// fd is closed with the peer's input unread, which makes the kernel reset at once and
    /// throw away what is still in its send buffer.
    @Test(arguments: Backend.available, connectionTriggers)
    func aCloseRequestedBeforeADrainDoesNotDestroyWhatWasWritten(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (client, server) = try fds.tcpLoopbackPair()
            try fds.shrinkSendBuffer(server)
            try fds.shrinkReceiveBuffer(client)
            let total = 256 * 1024
            let options = connectionOptions(trigger) { $0.highWaterMark = 2 * total }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try connection.write(patternBytes(from: 0, count: total))
                connection.close()
                // The peer says something the connection will never read.
                try writeAll(client, "are you still there?")
                var doneCalls = 0
                connections.drain(until: loop.now.advanced(by: .seconds(30))) { doneCalls += 1 }
                let reader = StreamReader(client)
                try runOnceUntil(loop) { reader.readAvailable() && doneCalls > 0 }
                #expect(reader.bytes.count == total, "every byte written reaches the peer")
                #expect(sameBytes(reader.bytes, patternBytes(from: 0, count: reader.bytes.count)))
                #expect(doneCalls == 1)
            }
        }
    }
    /// `close()`: "Stops reading, writes what is queued, then closes". When the peer sent
    /// anything after the `close()` (unread, since reading stopped), closing the fd with that
    /// input unread makes Linux reset at once, discarding the tail of the queue still in the
    /// kernel's send buffer: the peer gets less than was written and a reset, while the
    /// connection reports `.closed(.closed)` and `resetsSent` stays 0.
    @Test(arguments: Backend.available, connectionTriggers)
    func closeDeliversTheWholeQueueEvenIfThePeerSpeaksAfterwards(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (client, server) = try fds.tcpLoopbackPair()
            try fds.shrinkSendBuffer(server)
            try fds.shrinkReceiveBuffer(client)
            let total = 256 * 1024
            let options = connectionOptions(trigger) { $0.highWaterMark = 2 * total }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try connection.write(patternBytes(from: 0, count: total))
                connection.close()
                try writeAll(client, "thanks")
                let reader = StreamReader(client)
                try runOnceUntil(loop) { reader.readAvailable() && log.end(of: connection) != nil }
                #expect(reader.bytes.count == total, "every byte queued before close() reaches the peer")
                #expect(
                    reader.end == .endOfFile || connections.counters.snapshot.resetsSent == 1,
                    "a reset is at least counted: \(reader.end), \(log.notices(of: connection))")
            }
        }
    }
}
