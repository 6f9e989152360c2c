import CSelectors
import Selectors
import Testing

/// Connections when their loop closes, or their drain is over: every connection still ends with
/// exactly one `.closed`, and none is left open. Each test failed before its fix: a `.closed`
/// waiting for the loop's next turn was dropped with the closing loop's tasks; a connection
/// adopted while the loop closed was never ended; one adopted after a finished drain outlived
/// its deadline for good.
@Suite struct ConnectionsLoopCloseTests {
    /// `abort()` and `close()` tell `.closed` at the loop's next turn; a loop closed before
    /// that turn tells it while it closes.
    @Test(arguments: Backend.available)
    func aClosedWaitingForTheNextTurnIsToldWhenTheLoopCloses(backend: Backend) throws {
        for abort in [true, false] {
            try withDescriptors { fds in
                try withConnections(backend: backend, options: Connections.Options()) {
                    loop, connections, log in
                    let (server, _) = try fds.socketPair()
                    let connection = try fds.handOver(server, to: connections)
                    log.calling { abort ? connection.abort() : connection.close() }
                    #expect(log.end(of: connection) == nil, "told inside the owner's call")
                    loop.close()
                    #expect(
                        log.notices(of: connection) == [.closed(abort ? .aborted : .closed)],
                        "abort: \(abort)")
                    #expect(log.violations.isEmpty, "\(log.violations)")
                }
            }
        }
    }

    /// A handler that aborts its connection and closes the loop, from inside a dispatch.
    @Test(arguments: Backend.available)
    func aHandlerThatAbortsAndClosesTheLoopStillHearsClosed(backend: Backend) throws {
        try withDescriptors { fds in
            try withConnections(backend: backend, options: Connections.Options()) { loop, connections, log in
                let (server, peer) = try fds.socketPair()
                let connection = try fds.handOver(server, to: connections)
                log.reaction = { connection, event in
                    guard case .received = event else { return }
                    connection.abort()
                    loop.close()
                }
                try writeAll(peer, "x")
                try runBounded(loop, limit: .seconds(5))
                log.reaction = nil
                #expect(log.notices(of: connection) == [.closed(.aborted)])
            }
        }
    }

    /// While the loop closes, a `.closed` handler closes another connection: that one's
    /// `.closed` comes too, before `close()` returns, and after the handler's call.
    @Test(arguments: Backend.available)
    func aConnectionClosedByAClosedHandlerDuringTheLoopsCloseHearsClosed(backend: Backend) throws {
        try withDescriptors { fds in
            try withConnections(backend: backend, options: Connections.Options()) { loop, connections, log in
                let (first, _) = try fds.socketPair()
                let (second, _) = try fds.socketPair()
                let one = try fds.handOver(first, to: connections)
                let other = try fds.handOver(second, to: connections)
                log.reaction = { connection, event in
                    // Through `calling`: the other's `.closed` must not come inside this call.
                    if case .closed = event { log.calling { (connection == one ? other : one).close() } }
                }
                loop.close()
                log.reaction = nil
                #expect(log.end(of: one) != nil && log.end(of: other) != nil, "\(log.events)")
                #expect(log.violations.isEmpty, "\(log.violations)")
                #expect(connections.count == 0)
            }
        }
    }

    /// A `.closed` handler that adopts a new connection (a client that reconnects) while the
    /// loop closes is refused: the loop has ended its connections, so the new one would stay
    /// open for good. The fd stays the caller's.
    @Test(arguments: Backend.available)
    func adoptingWhileTheLoopClosesIsRefused(backend: Backend) throws {
        try withDescriptors { fds in
            try withConnections(backend: backend, options: Connections.Options()) { loop, connections, log in
                let (server, _) = try fds.socketPair()
                let (replacement, _) = try fds.socketPair()
                _ = try fds.handOver(server, to: connections)
                var refusal: SelectorError?
                log.reaction = { _, event in
                    guard case .closed = event else { return }
                    do throws(SelectorError) {
                        _ = try connections.adopt(replacement)
                    } catch {
                        refusal = error
                    }
                }
                loop.close()
                log.reaction = nil
                #expect(
                    refusal?.operation == .adopt && refusal?.fd == replacement,
                    "\(String(describing: refusal))")
                #expect(refusal?.reason == .loopClosed, "\(String(describing: refusal))")
                #expect(connections.count == 0)
                #expect(fcntl_isOpen(replacement), "the refused fd is still the caller's")
                // Adopting after the loop closed is refused the same way.
                #expect(throws: SelectorError.self) { try connections.adopt(replacement) }
            }
        }
    }

    /// A `Connections` whose only owner is a listener's accept handler (a server whose worker
    /// failed to start): closing the loop stops the listener's watch, which releases the
    /// handler and with it the `Connections`; its close observer must then not run. It did, on
    /// the freed object, whenever the listener's observer happened to run first (echo-server
    /// crashed so in about one start-up in four that failed for want of descriptors).
    @Test(arguments: Backend.available)
    func aConnectionsReleasedByAnotherCloseObserverIsNotCalled(backend: Backend) throws {
        for _ in 0..<50 {
            let loop = try EventLoop(backend: backend).assumeIsolated()
            let listener = try Listener(address: .ipv4Loopback(port: 0))
            defer { listener.close() }
            do {
                let connections = try Connections(loop: loop) { _, _ in }
                try listener.accept(on: loop) { _ in withExtendedLifetime(connections) {} }
            }
            loop.close()
        }
    }

    /// An `EventLoopThread` shut down with a task still queued that closes a connection: the
    /// task runs while the loop stops, and the `.closed` it causes is told before the loop is
    /// gone.
    @Test func aCloseFromATaskRunDuringShutdownIsTold() throws {
        let (fd, peer) = try Socket.makePair()
        defer { Socket.close(peer) }
        let thread = try EventLoopThread(name: uniqueThreadName("close"))
        let ended = Shared<[ConnectionEnd]>([])
        let adopted = SharedFlag()
        try thread.loop.execute {
            let io = thread.loop.assumeIsolated()
            let connections = try? Connections(loop: io) { _, event in
                if case .closed(let end) = event { ended.withLock { $0.append(end) } }
            }
            guard let connections, let connection = try? connections.adopt(fd) else {
                Socket.close(fd)
                return adopted.set()
            }
            let handle = LoopHandle(connection: connection)
            // Queued behind the stop: it runs while the loop shuts down.
            io.stop()
            try? thread.loop.execute { handle.connection.close() }
            adopted.set()
        }
        eventually { adopted.isSet }
        thread.shutdown()
        #expect(ended.value == [.closed])
    }

    /// A drain that has finished (nothing left to drain) has no deadline left: a connection
    /// adopted after it is aborted at once, told at the next turn, rather than waiting for
    /// a peer that may never end its side.
    @Test(arguments: Backend.available)
    func aConnectionAdoptedAfterAFinishedDrainIsAborted(backend: Backend) throws {
        try withDescriptors { fds in
            try withConnections(backend: backend, options: Connections.Options()) { loop, connections, log in
                var done = 0
                connections.drain(until: loop.now.advanced(by: .seconds(60))) { done += 1 }
                #expect(done == 1)
                let (server, peer) = try fds.socketPair()
                let late = try log.calling { try fds.handOver(server, to: connections) }
                try runOnceUntil(loop) { log.end(of: late) != nil }
                #expect(log.notices(of: late) == [.closed(.aborted)])
                #expect((try? readAvailable(peer)) == [], "the peer sees the end")
                #expect(done == 1, "the drain's done is told once")
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }
}

/// A connection handed to a task that runs on its own loop's thread.
private struct LoopHandle: @unchecked Sendable {
    let connection: Connection
}

/// Whether `fd` is an open descriptor (`fcntl(F_GETFD)`).
private func fcntl_isOpen(_ fd: Int32) -> Bool {
    cselectors_fcntl_get(fd, F_GETFD) >= 0
}
