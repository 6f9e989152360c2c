import CSelectors
import Selectors
import Testing

/// `drain(until:then:)` "calls `done` once none is left", and this batch of changes makes a
/// drain "tell done after the last .closed": `end` and `tellClosedNotices` check
/// `closedNotices` before finishing. `drain` itself does not: when the owner's own call
/// closed the last connection in this turn (`close()` or `abort()`, whose `.closed` is told
/// at the loop's next turn) and the owner then starts the drain (a shutdown right after
/// closing a client), `count` is 0 and `drain` calls `done` at once, before that `.closed`.
/// The same happens when the drain's own loop closes the last open connection while such a
/// notice is pending.
@Suite struct DrainDoneBeforePendingClosedTests {
    @Test(arguments: Backend.available, connectionTriggers)
    func aDrainStartedRightAfterTheOwnerClosedTheLastConnectionTellsClosedFirst(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            let (server, _) = try fds.socketPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try loop.runOnce(timeout: .milliseconds(5))
                connection.close()  // nothing queued: ends now, `.closed` told at the next turn
                var eventsAtDone: [RecordedEvent]?
                connections.drain(until: LoopInstant.now.advanced(by: .seconds(30))) {
                    eventsAtDone = log.notices(of: connection)
                }
                try runOnceUntil(loop) { eventsAtDone != nil && log.end(of: connection) != nil }
                #expect(
                    eventsAtDone?.last == .closed(.closed),
                    "done ran before the last .closed: \(String(describing: eventsAtDone))")
            }
        }
    }

    /// The drain's own loop ends the last open connection (idle: closed at once) while the
    /// `.closed` of another, aborted by the owner in this turn, is still to be told.
    @Test(arguments: Backend.available, connectionTriggers)
    func aDrainThatClosesTheLastIdleConnectionWaitsForAPendingClosed(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let (first, _) = try fds.socketPair()
            let (second, _) = try fds.socketPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let aborted = try fds.handOver(first, to: connections)
                let idle = try fds.handOver(second, to: connections)
                try loop.runOnce(timeout: .milliseconds(5))
                aborted.abort()
                var abortedAtDone: [RecordedEvent]?
                connections.drain(until: LoopInstant.now.advanced(by: .seconds(30))) {
                    abortedAtDone = log.notices(of: aborted)
                }
                try runOnceUntil(loop) {
                    abortedAtDone != nil && log.end(of: aborted) != nil && log.end(of: idle) != nil
                }
                #expect(
                    abortedAtDone?.last == .closed(.aborted),
                    "done ran before the aborted connection's .closed: \(String(describing: abortedAtDone))")
            }
        }
    }
}
