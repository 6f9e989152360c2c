import CSelectors
import Selectors
import Testing

/// `drain(until:then:)` "calls `done` once none is left"; `sendEndOfStream`'s comment says
/// the drain's `done` comes after every `.closed`. The last connection of a drain ended by the
/// owner's `abort()` (its `.closed` is told at the next turn) must not have `done` run first,
/// nor from inside the owner's `abort()` call.
@Suite struct ConnectionsDrainDoneOrderTests {
    @Test(arguments: Backend.available, connectionTriggers)
    func abortingTheLastDrainingConnectionTellsItsClosedBeforeDone(backend: Backend, trigger: Trigger) throws
    {
        try withDescriptors { fds in
            let (server, _) = try fds.socketPair()
            try fds.shrinkSendBuffer(server)
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try connection.write(patternBytes(from: 0, count: 1 << 20))  // the peer never reads
                var eventsAtDone: [RecordedEvent]?
                var aborting = false
                var doneInsideAbort = false
                connections.drain(until: LoopInstant.now.advanced(by: .seconds(30))) {
                    eventsAtDone = log.notices(of: connection)
                    doneInsideAbort = aborting
                }
                try loop.runOnce(timeout: .milliseconds(5))
                #expect(eventsAtDone == nil, "still draining")
                aborting = true
                connection.abort()
                aborting = false
                try runOnceUntil(loop) { eventsAtDone != nil && log.end(of: connection) != nil }
                #expect(!doneInsideAbort, "done ran inside abort()")
                #expect(
                    eventsAtDone?.last == .closed(.aborted),
                    "done ran before the last .closed: \(String(describing: eventsAtDone))")
            }
        }
    }
}
