import CSelectors
import Selectors
import Testing

/// How connections end: the owner's close (after flushing), abort (a reset), the peer's end
/// of stream with and without `halfClose`, `shutdownOutput`, failures and the idle timeout.
/// Each one ends with exactly one `.closed` saying how.
@Suite struct ConnectionsCloseTests {
    /// A stream pair of either kind, `(connection's end, peer)`.
    enum Pair: String, CaseIterable, CustomStringConvertible, Sendable {
        case unix, tcp
        var description: String { rawValue }

        func make(_ fds: OpenDescriptors) throws -> (Int32, Int32) {
            switch self {
            case .unix: return try fds.socketPair()
            case .tcp:
                let (client, server) = try fds.tcpLoopbackPair()
                return (server, client)
            }
        }
    }

    /// Every backend, trigger mode and kind of stream pair.
    struct StreamCase: CustomTestStringConvertible, Sendable {
        let backend: Backend
        let trigger: Trigger
        let pair: Pair
        var testDescription: String { "\(backend), \(trigger), \(pair)" }

        static let all: [StreamCase] = Backend.available.flatMap { backend in
            connectionTriggers.flatMap { trigger in
                Pair.allCases.map { StreamCase(backend: backend, trigger: trigger, pair: $0) }
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func closeWritesEverythingQueuedThenClosesAndThePeerSeesAnOrderlyEnd(backend: Backend, trigger: Trigger)
        throws
    {
        for pair in Pair.allCases {
            try withDescriptors { fds in
                let (server, peer) = try pair.make(fds)
                try fds.shrinkSendBuffer(server)
                let total = 1024 * 1024
                // A high mark above the total: no full and drained notices in between.
                let options = connectionOptions(trigger) { $0.highWaterMark = 2 * total }
                try withConnections(backend: backend, options: options) { loop, connections, log in
                    let connection = try fds.handOver(server, to: connections)
                    try connection.write(patternBytes(from: 0, count: total))
                    #expect(connection.pendingOutputCount > 0)
                    log.calling { connection.close() }
                    #expect(connection.isOpen, "\(pair): open until the queue is written")
                    let (bytes, end) = try readToEnd(peer, running: loop)
                    #expect(bytes.count == total, "\(pair)")
                    #expect(sameBytes(bytes, patternBytes(from: 0, count: total)), "\(pair)")
                    #expect(end == .endOfFile, "\(pair): an orderly end, not a reset")
                    try runOnceUntil(loop) { log.end(of: connection) != nil }
                    #expect(log.notices(of: connection) == [.closed(.closed)], "\(pair)")
                    let statistics = connections.counters.snapshot
                    #expect(statistics.closed == 1)
                    #expect(statistics.resetsSent == 0)
                    #expect(statistics.open == 0)
                    #expect(log.violations.isEmpty, "\(log.violations)")
                }
            }
        }
    }

    /// A reset is a TCP notion; on loopback the peer's next read fails with `ECONNRESET`.
    @Test(arguments: Backend.available, connectionTriggers)
    func abortDropsTheQueueAndThePeerSeesAReset(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (client, server) = try fds.tcpLoopbackPair()
            try fds.shrinkSendBuffer(server)
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try connection.write(patternBytes(from: 0, count: 512 * 1024))
                #expect(connection.pendingOutputCount > 0)
                log.calling { connection.abort() }
                #expect(!connection.isOpen, "closed at once")
                #expect(log.events.isEmpty, "told at the next turn")
                let (_, end) = try readToEnd(client, running: loop)
                #expect(end == .failed(.connectionReset))
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.closed(.aborted)])
                let statistics = connections.counters.snapshot
                #expect(statistics.aborted == 1)
                #expect(statistics.resetsSent == 1)
                #expect(statistics.pendingBytes == 0)
                #expect(statistics.outputBufferBytes == 0)
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func abortWithNothingQueuedIsStillAReset(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (client, server) = try fds.tcpLoopbackPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                connection.abort()
                let (bytes, end) = try readToEnd(client, running: loop)
                #expect(bytes.isEmpty)
                #expect(end == .failed(.connectionReset))
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.closed(.aborted)])
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func aPeerResetEndsTheConnectionAsFailedWithECONNRESET(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (client, server) = try fds.tcpLoopbackPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try fds.reset(client)
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.closed(.failed(.connectionReset))])
                #expect(connections.counters.snapshot.resets == 1)
                #expect(!connection.isOpen)
            }
        }
    }

    // MARK: The peer's end of stream

    @Test(arguments: StreamCase.all)
    func byDefaultThePeersEndClosesTheConnectionOnceItsQueueIsWritten(_ streamCase: StreamCase) throws {
        let (backend, trigger, pair) = (streamCase.backend, streamCase.trigger, streamCase.pair)
        try withDescriptors { fds in
            let (server, peer) = try pair.make(fds)
            let filled = try fillUntilFull(server)
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try connection.write("the tail")
                #expect(connection.pendingOutputCount == 8)
                try writeAll(peer, "bye")
                #expect(shutdown(peer, Int32(SHUT_WR)) == 0)
                try runOnceUntil(loop) { log.notices(of: connection).contains(.endOfInput) }
                #expect(connection.isOpen, "\(pair): still writing its queue")
                #expect(log.bytes[connection] == Array("bye".utf8))
                #expect(throws: Never.self) { try connection.write(" and more") }

                let (bytes, end) = try readToEnd(peer, running: loop)
                #expect(bytes.count == filled + 17)
                #expect(Array(bytes.suffix(17)) == Array("the tail and more".utf8))
                #expect(end == .endOfFile)
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.endOfInput, .closed(.peerClosed)])
                #expect(connections.counters.snapshot.peerClosed == 1)
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    @Test(arguments: StreamCase.all)
    func withHalfCloseTheConnectionAnswersAfterThePeersEndAndClosesWhenTold(_ streamCase: StreamCase) throws {
        let (backend, trigger, pair) = (streamCase.backend, streamCase.trigger, streamCase.pair)
        try withDescriptors { fds in
            let (server, peer) = try pair.make(fds)
            let options = connectionOptions(trigger) { $0.halfClose = true }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try writeAll(peer, "request")
                #expect(shutdown(peer, Int32(SHUT_WR)) == 0)
                try runOnceUntil(loop) { log.notices(of: connection).contains(.endOfInput) }
                for _ in 0..<3 { try loop.runOnce(timeout: .milliseconds(5)) }
                #expect(connection.isOpen, "\(pair): half-open, waiting for the owner")
                #expect(log.notices(of: connection) == [.endOfInput])
                try connection.write("response")
                connection.close()
                let (bytes, end) = try readToEnd(peer, running: loop)
                #expect(bytes == Array("response".utf8))
                #expect(end == .endOfFile)
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                // The peer ended its side first: that is how the connection ended.
                #expect(log.notices(of: connection) == [.endOfInput, .closed(.peerClosed)])
                #expect(log.bytes[connection] == Array("request".utf8))
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    // MARK: shutdownOutput

    @Test(arguments: StreamCase.all)
    func shutdownOutputSendsEndOfStreamAfterTheQueueAndKeepsReading(_ streamCase: StreamCase) throws {
        let (backend, trigger, pair) = (streamCase.backend, streamCase.trigger, streamCase.pair)
        try withDescriptors { fds in
            let (server, peer) = try pair.make(fds)
            try fds.shrinkSendBuffer(server)
            let total = 256 * 1024
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try connection.write(patternBytes(from: 0, count: total))
                log.calling { connection.shutdownOutput() }
                let (bytes, end) = try readToEnd(peer, running: loop)
                #expect(sameBytes(bytes, patternBytes(from: 0, count: total)), "\(pair): the queue first")
                #expect(end == .endOfFile, "\(pair): then end of stream")
                #expect(connection.isOpen)

                // The peer can still send, and the connection still receives.
                try writeAll(peer, "still talking")
                try runOnceUntil(loop) { log.receivedCount(of: connection) == 13 }
                #expect(log.bytes[connection] == Array("still talking".utf8))
                #expect(shutdown(peer, Int32(SHUT_WR)) == 0)
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.endOfInput, .closed(.peerClosed)])
                #expect(connections.counters.snapshot.resetsSent == 0)
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    /// With half-close, once both sides have sent end of stream (in either order) nothing more
    /// can pass: the connection ends by itself (`.closed(.peerClosed)`) rather than stay open
    /// until the owner closes it.
    @Test(arguments: StreamCase.all)
    func withHalfCloseAConnectionBothSidesEndedEndsByItself(_ streamCase: StreamCase) throws {
        let (backend, trigger, pair) = (streamCase.backend, streamCase.trigger, streamCase.pair)
        for peerEndsFirst in [true, false] {
            try withDescriptors { fds in
                let (server, peer) = try pair.make(fds)
                let options = connectionOptions(trigger) { $0.halfClose = true }
                try withConnections(backend: backend, options: options) { loop, connections, log in
                    let connection = try fds.handOver(server, to: connections)
                    if peerEndsFirst {
                        #expect(shutdown(peer, Int32(SHUT_WR)) == 0)
                        try runOnceUntil(loop) { log.notices(of: connection).contains(.endOfInput) }
                        log.calling { connection.shutdownOutput() }
                    } else {
                        log.calling { connection.shutdownOutput() }
                        for _ in 0..<3 { try loop.runOnce(timeout: .milliseconds(5)) }
                        #expect(connection.isOpen, "\(pair): still reading")
                        #expect(shutdown(peer, Int32(SHUT_WR)) == 0)
                    }
                    try runOnceUntil(loop) { log.end(of: connection) != nil }
                    #expect(log.notices(of: connection) == [.endOfInput, .closed(.peerClosed)], "\(pair)")
                    #expect(readOnceWhenReady(peer) == .endOfFile)
                    #expect(connections.counters.snapshot.resetsSent == 0)
                    #expect(log.violations.isEmpty, "\(log.violations)")
                }
            }
        }
    }

    // MARK: Idle timeout

    @Test(arguments: Backend.available, connectionTriggers)
    func anIdleConnectionIsClosedAfterTheTimeoutAndNeverBefore(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            let timeout = Duration.milliseconds(100)
            let options = connectionOptions(trigger) { $0.idleTimeout = timeout }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let adopted = LoopInstant.now
                let connection = try fds.handOver(server, to: connections)
                var closedAt: LoopInstant?
                log.reaction = { _, event in
                    if case .closed = event { closedAt = LoopInstant.now }
                }
                try runOnceUntil(loop) { closedAt != nil }
                let idleFor = adopted.duration(to: try #require(closedAt))
                #expect(idleFor >= timeout, "closed after \(idleFor)")
                #expect(log.notices(of: connection) == [.closed(.idle)])
                try settleClosedDescriptors(loop)
                #expect(readOnceWhenReady(peer) == .endOfFile, "nothing was lost: an orderly end")
                #expect(connections.counters.snapshot.idle == 1)
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func bytesFromThePeerKeepAConnectionFromBeingIdle(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            let timeout = Duration.milliseconds(100)
            let options = connectionOptions(trigger) { $0.idleTimeout = timeout }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                var closedAt: LoopInstant?
                log.reaction = { _, event in
                    if case .closed = event { closedAt = LoopInstant.now }
                }
                // A byte every 20 ms for four timeouts.
                let start = LoopInstant.now
                var lastSent = start
                try runOnceUntil(loop, step: .milliseconds(5)) {
                    if lastSent.duration(to: .now) >= .milliseconds(20) {
                        try? writeAll(peer, "x")
                        lastSent = .now
                    }
                    return closedAt != nil || start.duration(to: .now) >= timeout * 4
                }
                #expect(closedAt == nil, "closed while the peer kept sending")
                #expect(connection.isOpen)
                try runOnceUntil(loop) { closedAt != nil }
                if let closedAt {
                    #expect(lastSent.duration(to: closedAt) >= timeout)
                }
                #expect(log.end(of: connection) == .idle)
            }
        }
    }

    /// "No read or write progress for `idleTimeout`": bytes the owner writes, which the kernel
    /// takes at once, are progress too (a server that pushes to a client that never sends).
    @Test(arguments: Backend.available, connectionTriggers)
    func bytesTheOwnerWritesKeepAConnectionFromBeingIdle(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            let timeout = Duration.milliseconds(100)
            let options = connectionOptions(trigger) { $0.idleTimeout = timeout }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                let ticker = loop.schedule(after: .milliseconds(20), repeating: .milliseconds(20)) {
                    try? connection.write("tick")
                }
                defer { ticker.cancel() }
                let start = LoopInstant.now
                var received = 0
                try runOnceUntil(loop, step: .milliseconds(5)) {
                    received += (try? readAvailable(peer).count) ?? 0
                    return log.end(of: connection) != nil || start.duration(to: .now) >= timeout * 4
                }
                #expect(received > 0)
                #expect(log.end(of: connection) == nil, "closed as idle while writing every 20 ms")
            }
        }
    }
}
