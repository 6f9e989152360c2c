import CSelectors
import Selectors
import Testing

/// Writing through a `Connections`: at once when the kernel takes it, queued otherwise and
/// flushed as the peer reads; `.write` watched only while something is queued; the water
/// marks and the reading pause; dead handles; events never delivered inside the caller's call.
@Suite struct ConnectionsWriteTests {
    /// What the selector watches for `fd` now.
    private func watched(_ loop: IsolatedEventLoop, _ fd: Int32) -> Events? {
        try? loop.key(for: fd).events
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func aWriteTheKernelTakesWholeQueuesNothingAndWatchesNoWrite(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                #expect(watched(loop, server) == .read)
                try log.calling { try connection.write("hello") }
                try log.calling { try connection.write([UInt8]()) }
                #expect(connection.pendingOutputCount == 0)
                #expect(watched(loop, server) == .read, ".write is not watched with nothing queued")
                #expect(try readAvailable(peer) == Array("hello".utf8), "sent inside the call")
                try loop.runOnce(timeout: .zero)
                #expect(log.events.isEmpty)
                let statistics = connections.counters.snapshot
                #expect(statistics.bytesSent == 5)
                #expect(statistics.pendingBytes == 0)
                #expect(statistics.outputBufferBytes == 0)
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func aShortWriteQueuesOnlyTheRestAndTheQueueDrainsAsThePeerReads(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try fds.shrinkSendBuffer(server)
            let total = 200 * 1024
            let payload = patternBytes(from: 0, count: total)
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try log.calling { try connection.write(payload) }
                let pending = connection.pendingOutputCount
                #expect(
                    pending > 0 && pending < total, "the small send buffer took part of it: \(pending) left")
                #expect(connections.counters.snapshot.pendingBytes == pending)
                #expect(connections.counters.snapshot.bytesSent == UInt64(total - pending))
                #expect(watched(loop, server) == [.read, .write])

                let reader = StreamReader(peer)
                try runOnceUntil(loop) {
                    _ = reader.readAvailable()
                    return reader.bytes.count >= total
                }
                #expect(sameBytes(reader.bytes, payload), "every byte once, in order")
                #expect(connection.pendingOutputCount == 0)
                #expect(watched(loop, server) == .read, ".write is no longer watched once drained")
                let statistics = connections.counters.snapshot
                #expect(statistics.bytesSent == UInt64(total))
                #expect(statistics.pendingBytes == 0)
                #expect(statistics.outputBufferBytes == 0)
                #expect(statistics.peakPendingBytes == pending)
                #expect(log.events.isEmpty, "below the high-water mark: no notices")
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func passingTheHighMarkReportsFullAtTheNextTurnPausesReadingAndDrainedResumesIt(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            let options = connectionOptions(trigger) {
                $0.highWaterMark = 64 * 1024
                $0.lowWaterMark = 16 * 1024
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                let total = 1024 * 1024
                try log.calling { try connection.write(patternBytes(from: 0, count: total)) }
                #expect(connection.isOutputFull)
                #expect(log.events.isEmpty, "not told inside write")
                try loop.runOnce(timeout: .zero)
                #expect(log.notices(of: connection) == [.outputFull], "told at the loop's next turn")
                #expect(connections.counters.snapshot.readPauses == 1)

                // Reading is paused: the peer's bytes wait in the kernel.
                try writeAll(peer, "ping")
                for _ in 0..<5 { try loop.runOnce(timeout: .milliseconds(5)) }
                #expect(log.receivedCount(of: connection) == 0, "no reading while full")
                #expect(watched(loop, server)?.contains(.read) != true)

                let reader = StreamReader(peer)
                try runOnceUntil(loop) {
                    _ = reader.readAvailable()
                    return log.receivedCount(of: connection) == 4
                }
                #expect(sameBytes(reader.bytes, patternBytes(from: 0, count: reader.bytes.count)))
                #expect(!connection.isOutputFull)
                #expect(log.notices(of: connection) == [.outputFull, .outputDrained])
                #expect(log.events(of: connection).last == .received(4), "reading resumed after the drain")
                #expect(log.bytes[connection] == Array("ping".utf8))
                try runOnceUntil(loop) {
                    _ = reader.readAvailable()
                    return reader.bytes.count == total
                }
                #expect(sameBytes(reader.bytes, patternBytes(from: 0, count: total)))
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func withoutPausingReadingAFullConnectionKeepsReading(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            let options = connectionOptions(trigger) {
                $0.highWaterMark = 64 * 1024
                $0.lowWaterMark = 16 * 1024
                $0.pausesReadingWhenFull = false
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try connection.write(patternBytes(from: 0, count: 1024 * 1024))
                try writeAll(peer, "ping")
                try runOnceUntil(loop) { log.receivedCount(of: connection) == 4 }
                #expect(connection.isOutputFull)
                #expect(log.notices(of: connection) == [.outputFull])
                #expect(connections.counters.snapshot.readPauses == 0)
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func pauseReadingKeepsThePeersBytesInTheKernelUntilResumed(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                connection.pauseReading()
                #expect(watched(loop, server) == nil, "nothing to watch: taken off the loop")
                try writeAll(peer, "first")
                for _ in 0..<5 { try loop.runOnce(timeout: .milliseconds(5)) }
                #expect(log.events.isEmpty)
                #expect(try Socket.unreadByteCount(server) == 5)
                // Writing still works, and the queue still drains, while paused.
                try connection.write("out")
                #expect(try readAvailable(peer) == Array("out".utf8))
                connection.resumeReading()
                connection.resumeReading()
                try runOnceUntil(loop) { log.receivedCount(of: connection) == 5 }
                try writeAll(peer, "second")
                try runOnceUntil(loop) { log.receivedCount(of: connection) == 11 }
                #expect(log.bytes[connection] == Array("firstsecond".utf8))
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    /// Paused from its own `.received` with more bytes still in the kernel (more than one
    /// read takes): in edge mode nothing new arrives to report them, so resuming must.
    @Test(arguments: Backend.available, connectionTriggers)
    func pausedInsideItsHandlerWithBytesLeftInTheKernelResumingDeliversTheRest(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            let total = 150 * 1024
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                log.reaction = { connection, event in
                    if case .received = event { connection.pauseReading() }
                }
                try writeAll(peer, patternBytes(from: 0, count: total))
                try runOnceUntil(loop) { log.receivedCount(of: connection) > 0 }
                for _ in 0..<3 { try loop.runOnce(timeout: .milliseconds(5)) }
                let first = log.receivedCount(of: connection)
                #expect(first < total, "one read, then paused")
                #expect(log.events(of: connection).count == 1)
                log.reaction = nil
                connection.resumeReading()
                try runOnceUntil(loop) { log.receivedCount(of: connection) == total }
                #expect(sameBytes(log.bytes[connection] ?? [], patternBytes(from: 0, count: total)))
            }
        }
    }

    // MARK: Full and drained when the write comes from a task

    /// `IsolatedEventLoop.execute` tasks run after the iteration's handlers, so a full queue
    /// found by a write made in one is reported after the *next* iteration's handlers. If the
    /// peer has read everything by then, that iteration's flush drains the queue first: the
    /// owner must not hear `.outputDrained` for an `.outputFull` it was never told.
    @Test(arguments: Backend.available, connectionTriggers)
    func aWriteFromALocalTaskNeverReportsDrainedWithoutFull(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            // The kernel takes nothing more, so the whole write is queued.
            try fillUntilFull(server)
            let options = connectionOptions(trigger) {
                $0.highWaterMark = 2000
                $0.lowWaterMark = 1000
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                loop.execute { try? log.calling { try connection.write(patternBytes(from: 0, count: 3000)) } }
                try loop.runOnce(timeout: .zero)
                #expect(connection.pendingOutputCount == 3000)
                #expect(connection.isOutputFull)
                // The peer empties the socket before the loop's next turn.
                _ = try drain(peer)
                try runOnceUntil(loop) { connection.pendingOutputCount == 0 }
                for _ in 0..<3 { try loop.runOnce(timeout: .zero) }
                let marks = log.notices(of: connection)
                #expect(
                    marks == [.outputFull, .outputDrained] || marks.isEmpty,
                    "full and drained come in pairs, full first: \(marks)")
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    // MARK: Dead handles

    @Test(arguments: Backend.available, connectionTriggers)
    func aDeadHandleThrowsOnWriteAndIgnoresEverythingElse(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                #expect(connection.isOpen)
                log.calling { connection.close() }
                #expect(!connection.isOpen, "nothing was queued: closed inside the call")
                #expect(log.events.isEmpty, ".closed comes at the next turn")
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.closed(.closed)])
                #expect(readOnceWhenReady(peer) == .endOfFile)

                #expect(throws: SelectorError(.write, fd: server, .connectionClosed)) {
                    try connection.write("late")
                }
                connection.close()
                connection.abort()
                connection.shutdownOutput()
                connection.pauseReading()
                connection.resumeReading()
                #expect(!connection.isOpen)
                #expect(connection.pendingOutputCount == 0)
                #expect(!connection.isOutputFull)
                for _ in 0..<3 { try loop.runOnce(timeout: .zero) }
                #expect(log.events.count == 1, "a dead handle makes no events: \(log.events.map(\.event))")
                #expect(connections.count == 0)
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func writesAfterCloseOrShutdownOutputThrowOutputClosed(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (first, _) = try fds.socketPair()
            let (second, _) = try fds.socketPair()
            try fillUntilFull(first)
            try withConnections(backend: backend, options: connectionOptions(trigger)) { _, connections, _ in
                let closing = try fds.handOver(first, to: connections)
                try closing.write("queued")
                closing.close()
                #expect(closing.isOpen, "still flushing")
                #expect(throws: SelectorError(.write, fd: first, .outputClosed)) { try closing.write("more") }
                let halfClosed = try fds.handOver(second, to: connections)
                halfClosed.shutdownOutput()
                #expect(halfClosed.isOpen)
                #expect(throws: SelectorError(.write, fd: second, .outputClosed)) {
                    try halfClosed.write("more")
                }
            }
        }
    }

    /// A handle stays dead when its fd number is reused by a newer connection: its calls must
    /// not reach the new one. A reserved number makes the reuse certain.
    @Test(arguments: Backend.available, connectionTriggers)
    func aDeadHandleStaysDeadAfterItsNumberIsReusedByANewConnection(backend: Backend, trigger: Trigger)
        async throws
    {
        try await FixedDescriptorNumbers.withClosedNumber { number in
            try withDescriptors { fds in
                let (oldEnd, oldPeer) = try fds.socketPair()
                let (newEnd, newPeer) = try fds.socketPair()
                try withConnections(backend: backend, options: connectionOptions(trigger)) {
                    loop, connections, log in
                    try fds.duplicate(oldEnd, onto: number)
                    let old = try fds.handOver(number, to: connections)
                    old.close()
                    try runOnceUntil(loop) { log.end(of: old) != nil }
                    fds.close(oldEnd)
                    #expect(readOnceWhenReady(oldPeer) == .endOfFile)

                    try fds.duplicate(newEnd, onto: number)
                    let new = try fds.handOver(number, to: connections)
                    fds.close(newEnd)
                    #expect(new.fd == old.fd)
                    #expect(new != old)
                    #expect(new.isOpen && !old.isOpen)

                    #expect(throws: SelectorError(.write, fd: number, .connectionClosed)) {
                        try old.write("for the old connection")
                    }
                    old.pauseReading()
                    old.shutdownOutput()
                    old.close()
                    old.abort()
                    #expect(!old.isOpen)
                    #expect(new.isOpen, "the old handle's close did not reach the new connection")
                    #expect(readOnce(newPeer) == .wouldBlock, "nothing written, no end of stream")

                    try writeAll(newPeer, "to the new one")
                    try runOnceUntil(loop) { log.receivedCount(of: new) == 14 }
                    #expect(log.bytes[new] == Array("to the new one".utf8))
                    try new.write("reply")
                    #expect(try readAvailable(newPeer) == Array("reply".utf8))
                    #expect(log.events(of: old) == [.closed(.closed)])
                    #expect(log.violations.isEmpty, "\(log.violations)")
                }
            }
        }
    }

    @Test(arguments: Backend.available)
    func adoptingAnFdThatIsAlreadyAdoptedThrowsAndKeepsTheFirst(backend: Backend) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try withConnections(backend: backend, options: connectionOptions(.level)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                #expect(throws: SelectorError(.adopt, fd: server, .alreadyRegistered)) {
                    try connections.adopt(server)
                }
                #expect(connection.isOpen)
                #expect(connections.count == 1)
                try writeAll(peer, "x")
                try runOnceUntil(loop) { log.receivedCount(of: connection) == 1 }
            }
        }
    }

    @Test(arguments: Backend.available)
    func adoptingANegativeFdThrowsAndChangesNothing(backend: Backend) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try withConnections(backend: backend, options: connectionOptions(.level)) {
                loop, connections, log in
                for fd: Int32 in [-1, -2, Int32.min] {
                    #expect(throws: SelectorError(.adopt, fd: fd, .negativeDescriptor)) {
                        try connections.adopt(fd)
                    }
                }
                #expect(connections.count == 0)
                let connection = try fds.handOver(server, to: connections)
                try writeAll(peer, "x")
                try runOnceUntil(loop) { log.receivedCount(of: connection) == 1 }
            }
        }
    }

    // MARK: Events are never nested

    @Test(arguments: Backend.available, connectionTriggers)
    func aWriteThatFailsReportsTheFailureAtTheNextTurnNotInsideTheCall(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                fds.close(peer)
                // The peer is gone: the send fails with EPIPE (no SIGPIPE: it is a socket).
                try log.calling { try connection.write("into the void") }
                #expect(log.events.isEmpty)
                #expect(throws: SelectorError(.write, fd: server, .outputClosed)) {
                    try connection.write("again")
                }
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.notices(of: connection) == [.closed(.failed(.brokenPipe))])
                #expect(connections.counters.snapshot.brokenPipes == 1)
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    /// The handler calls close, abort and write on connections from inside its own events;
    /// the outcome of each comes later, from the loop.
    @Test(arguments: Backend.available, connectionTriggers)
    func callsAHandlerMakesNeverDeliverEventsInsideThemselves(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (closedServer, closedPeer) = try fds.socketPair()
            let (abortedServer, abortedPeer) = try fds.socketPair()
            let (fullServer, fullPeer) = try fds.socketPair()
            let options = connectionOptions(trigger) {
                $0.highWaterMark = 1024
                $0.lowWaterMark = 512
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let closing = try fds.handOver(closedServer, to: connections)
                let aborting = try fds.handOver(abortedServer, to: connections)
                let filling = try fds.handOver(fullServer, to: connections)
                log.reaction = { connection, event in
                    guard case .received = event else { return }
                    log.calling {
                        if connection == closing { connection.close() }
                        if connection == aborting { connection.abort() }
                        if connection == filling {
                            try? connection.write(patternBytes(from: 0, count: 512 * 1024))
                        }
                    }
                }
                try writeAll(closedPeer, "a")
                try writeAll(abortedPeer, "b")
                try writeAll(fullPeer, "c")
                try runOnceUntil(loop) {
                    log.end(of: closing) != nil && log.end(of: aborting) != nil
                        && log.notices(of: filling).contains(.outputFull)
                }
                #expect(log.notices(of: closing) == [.closed(.closed)])
                #expect(log.notices(of: aborting) == [.closed(.aborted)])
                #expect(log.notices(of: filling) == [.outputFull])
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }
}
