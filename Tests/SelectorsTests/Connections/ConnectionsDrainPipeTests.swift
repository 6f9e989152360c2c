import CSelectors
import Selectors
import Testing

/// Draining a pipe's write end whose reader has not yet read what the pipe holds: closing the
/// write end loses nothing (the reader still reads every byte, then end of file), so the
/// drain must close it as `.closed`, not `.aborted` ("Closed with data lost") with a reset
/// counted. `FIONREAD` on a pipe's write end counts the bytes waiting for the *reader*, which
/// the drain takes for input of its own left unread.
@Suite struct ConnectionsDrainPipeTests {
    @Test(arguments: Backend.available, connectionTriggers)
    func drainingAPipesWriteEndWithBytesItsReaderHasNotReadClosesItCleanly(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try fds.pipe()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(writeEnd, to: connections)
                try log.calling { try connection.write(patternBytes(from: 0, count: 1000)) }
                #expect(connection.pendingOutputCount == 0, "the pipe took it all")
                var done = false
                connections.drain(until: LoopInstant.now.advanced(by: .seconds(5))) { done = true }
                try runOnceUntil(loop) { done }
                #expect(
                    log.end(of: connection) == .closed, "nothing was lost: \(log.notices(of: connection))")
                let s = connections.counters.snapshot
                #expect(s.aborted == 0 && s.resetsSent == 0, "\(s)")
                let (bytes, end) = try readToEnd(readEnd, running: loop)
                #expect(bytes == patternBytes(from: 0, count: 1000) && end == .endOfFile)
            }
        }
    }
}
