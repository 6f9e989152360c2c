import CSelectors
import Selectors
import Testing

/// Pipes are streams too: a `Connections` adopts a pipe's read end (input only) or its write
/// end (output only). A pipe is written with `write(2)` once `send` said `ENOTSOCK`, and has
/// no half-close: `shutdownOutput` closes it.
@Suite struct ConnectionsPipeTests {
    @Test(arguments: Backend.available, connectionTriggers)
    func aPipesReadEndDeliversWhatIsWrittenThenItsEnd(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try fds.pipe()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(readEnd, to: connections)
                let total = 300 * 1024
                var written = 0
                try runOnceUntil(loop) {
                    if written < total {
                        let chunk = patternBytes(from: written, count: min(32 * 1024, total - written))
                        written += (try? descriptorWrite(writeEnd, chunk)).flatMap { $0 } ?? 0
                    }
                    return log.receivedCount(of: connection) == total
                }
                #expect(sameBytes(log.bytes[connection] ?? [], patternBytes(from: 0, count: total)))
                fds.close(writeEnd)
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.endOfInput, .closed(.peerClosed)])
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func aPipesWriteEndIsWrittenWithWriteQueuesWhatThePipeCannotHoldAndClosesAfterFlush(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try fds.pipe()
            let total = 1024 * 1024
            let options = connectionOptions(trigger) { $0.highWaterMark = 2 * total }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(writeEnd, to: connections)
                // A pipe holds 64 KiB: the rest is queued. `send` fails with ENOTSOCK first.
                try log.calling { try connection.write(patternBytes(from: 0, count: total)) }
                let pending = connection.pendingOutputCount
                #expect(pending > 0 && pending < total, "\(pending) queued")
                #expect(try loop.key(for: writeEnd).events.contains(.write))
                try connection.write("!")
                connection.close()
                let (bytes, end) = try readToEnd(readEnd, running: loop)
                #expect(sameBytes(bytes, patternBytes(from: 0, count: total) + Array("!".utf8)))
                #expect(end == .endOfFile)
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.closed(.closed)])
                #expect(connections.counters.snapshot.bytesSent == UInt64(total + 1))
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func shutdownOutputOnAPipeClosesItOnceTheQueueIsWritten(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try fds.pipe()
            let total = 200 * 1024
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(writeEnd, to: connections)
                try connection.write(patternBytes(from: 0, count: total))
                log.calling { connection.shutdownOutput() }
                let (bytes, end) = try readToEnd(readEnd, running: loop)
                #expect(sameBytes(bytes, patternBytes(from: 0, count: total)))
                #expect(end == .endOfFile)
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.closed(.closed)])
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func shutdownOutputOnAnIdlePipeClosesItAtTheNextTurn(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try fds.pipe()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(writeEnd, to: connections)
                log.calling { connection.shutdownOutput() }
                #expect(log.events.isEmpty)
                #expect(!connection.isOpen)
                #expect(readOnceWhenReady(readEnd) == .endOfFile)
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.closed(.closed)])
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    /// The reader going away is the peer going away: `EPIPE`, as for a socket whose peer
    /// closed, whether the connection learns it from a write or from the loop. Runs in a child
    /// process, which ignores `SIGPIPE` as `adopt`'s documentation asks of a process writing
    /// to pipes.
    @Test func aPipeWhoseReaderIsGoneFailsWithEPIPEOnTheNextWrite() async {
        await #expect(processExitsWith: .success) {
            Descriptor.ignoreBrokenPipeSignal()
            guard let (readEnd, writeEnd) = try? Descriptor.makePipe(),
                let loop = try? EventLoop().assumeIsolated()
            else { exit(10) }
            var ends: [ConnectionEnd] = []
            guard
                let connections = try? Connections(
                    loop: loop,
                    handler: { _, event in
                        if case .closed(let end) = event { ends.append(end) }
                    }),
                let connection = try? connections.adopt(writeEnd)
            else { exit(11) }
            Descriptor.close(readEnd)
            do {
                try connection.write("nobody reads this")
            } catch {
                exit(12)
            }
            for _ in 0..<100 where ends.isEmpty { try? loop.runOnce(timeout: .milliseconds(10)) }
            exit(ends == [.failed(.brokenPipe)] ? 0 : 13)
        }
    }

    /// Without a write, the loop learns of the missing reader from the hang-up the write end
    /// reports; it is still the peer going away, not a bad descriptor.
    @Test(arguments: Backend.available, connectionTriggers)
    func aPipeWhoseReaderIsGoneEndsAsAPeerThatWentAway(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try fds.pipe()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(writeEnd, to: connections)
                fds.close(readEnd)
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                let end = log.end(of: connection)
                #expect(end == .failed(.brokenPipe) || end == .peerClosed, "\(end.map { "\($0)" } ?? "open")")
            }
        }
    }

    /// A pipe has no reset: aborting one with output queued closes it, and counts no reset.
    @Test(arguments: Backend.available)
    func abortingAPipeWithOutputQueuedCountsNoReset(backend: Backend) throws {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try fds.pipe()
            try withConnections(backend: backend, options: connectionOptions(.level)) {
                loop, connections, log in
                let connection = try fds.handOver(writeEnd, to: connections)
                try connection.write(patternBytes(from: 0, count: 1024 * 1024))
                #expect(connection.pendingOutputCount > 0)
                log.calling { connection.abort() }
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.closed(.aborted)])
                #expect(connections.counters.snapshot.resetsSent == 0)
                _ = readEnd
            }
        }
    }
}
