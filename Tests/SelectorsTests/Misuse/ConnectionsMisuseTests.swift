import CSelectors
import Selectors
import Synchronization
import Testing

/// Misuse of `Connections`: absurd fds and options, dead handles, a closed loop. See `Misuse`.
@Suite(.timeLimit(.minutes(2)))
struct ConnectionsMisuseTests {
    @Test(arguments: Backend.available)
    func connectionsRefuseAbsurdDescriptors(backend: Backend) throws {
        try withConnections(backend: backend, options: Connections.Options()) { _, connections, log in
            for fd in [Int32.min, -1] {
                expectSelectorError(.adopt, fd: fd, .negativeDescriptor) { try connections.adopt(fd) }
            }
            for fd in Misuse.impossibleDescriptors {
                let error = selectorError { try connections.adopt(fd) }
                #expect(error?.fd == fd, "\(String(describing: error))")
            }
            #expect(connections.count == 0)
            #expect(log.events.isEmpty)
        }
    }

    /// epoll and io_uring refuse a closed fd and a regular file at `adopt`; the fd stays the
    /// caller's. (poll and select accept them and end the connection at the first wait,
    /// closing the number: not something a test running beside others may do.)
    @Test(arguments: Backend.available.filter { $0 == .epoll })
    func connectionsRefuseClosedDescriptorsAndRegularFilesOnEpoll(backend: Backend) async throws {
        try await FixedDescriptorNumbers.withClosedNumber { closed in
            try withDescriptors { fds in
                let file = try fds.regularFile()
                try withConnections(backend: backend, options: Connections.Options()) { _, connections, _ in
                    expectSelectorError(.register, fd: closed, .system(.badFileDescriptor)) {
                        try connections.adopt(closed)
                    }
                    let error = selectorError { try connections.adopt(file) }
                    #expect(error?.fd == file && error?.reason == .system(Errno(rawValue: EPERM)))
                    #expect(connections.count == 0)
                }
                #expect(cselectors_fcntl_get(file, F_GETFL) >= 0, "the refused fd is still open")
            }
        }
    }

    @Test func connectionsRefuseAbsurdOptions() throws {
        let io = try EventLoop().assumeIsolated()
        defer { io.close() }
        let bad: [(inout Connections.Options) -> Void] = [
            { $0.highWaterMark = 0 }, { $0.highWaterMark = -1 }, { $0.highWaterMark = .max },
            { $0.highWaterMark = .min }, { $0.lowWaterMark = -1 }, { $0.lowWaterMark = .min },
            { $0.lowWaterMark = $0.highWaterMark }, { $0.lowWaterMark = .max },
            { $0.idleTimeout = .zero }, { $0.idleTimeout = .nanoseconds(-1) },
            { $0.idleTimeout = .seconds(Int64.min) },
            { $0.trigger = .oneShot },
        ]
        for adjust in bad {
            var options = Connections.Options()
            adjust(&options)
            expectFailure(.connections, fd: nil) { try Connections(loop: io, options: options) { _, _ in } }
        }
        // Extreme but valid.
        for timeout in [
            Duration.seconds(Int64.max) * 10, .nanoseconds(1),
            Duration(secondsComponent: 0, attosecondsComponent: 1),
        ] {
            var options = Connections.Options()
            options.idleTimeout = timeout
            options.highWaterMark = 1
            options.lowWaterMark = 0
            let connections = try Connections(loop: io, options: options) { _, _ in }
            try io.runOnce(timeout: .zero)
            connections.closeAll()
        }
    }

    /// Empty writes, every call on dead handles (closed, aborted, after the loop closed, after
    /// the fd number went to a new connection), and calls made from inside the handler.
    @Test(arguments: Backend.available, connectionTriggers)
    func deadHandlesAndEmptyWritesAreHarmless(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (first, firstPeer) = try fds.socketPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                io, connections, log in
                let connection = try fds.handOver(first, to: connections)
                try connection.write([UInt8]())
                try connection.write("")
                try connection.write(UnsafeRawBufferPointer(start: nil, count: 0))
                #expect(connection.pendingOutputCount == 0)
                connection.shutdownOutput()
                expectSelectorError(.write, fd: first, .outputClosed) { try connection.write("late") }
                connection.close()
                connection.close()
                connection.abort()
                expectSelectorError(.write, fd: first, .connectionClosed) { try connection.write("x") }
                connection.pauseReading()
                connection.resumeReading()
                connection.shutdownOutput()
                #expect(!connection.isOpen && connection.pendingOutputCount == 0 && !connection.isOutputFull)
                try io.runOnce(timeout: .zero)
                #expect(log.end(of: connection) != nil)
                fds.close(firstPeer)

                // The number comes back for a new connection: the old handle stays dead.
                let (second, secondPeer) = try fds.socketPair()
                let renewed = try fds.handOver(second, to: connections)
                if connection.fd == second {
                    #expect(connection != renewed)
                    expectSelectorError(.write, fd: second, .connectionClosed) { try connection.write("x") }
                    connection.abort()
                    #expect(renewed.isOpen)
                }
                // From inside the handler: abort, then write, close and abort again.
                var inner: [SelectorError] = []
                log.reaction = { connection, event in
                    if case .received = event {
                        connection.abort()
                        do throws(SelectorError) { try connection.write("x") } catch { inner.append(error) }
                        connection.close()
                        connection.abort()
                        connections.closeAll()
                    }
                    if case .closed = event {
                        do throws(SelectorError) { try connection.write("x") } catch { inner.append(error) }
                    }
                }
                _ = "ping".withCString { CSelectors.write(secondPeer, $0, 4) }
                try runOnceUntil(io) { !renewed.isOpen }
                #expect(inner.count == 2 && inner.allSatisfy { $0.reason == .connectionClosed }, "\(inner)")
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    /// After the loop closes, every handle is dead and `adopt` throws.
    @Test(arguments: Backend.available)
    func connectionsAfterTheirLoopClosed(backend: Backend) throws {
        try withDescriptors { fds in
            let (fd, _) = try fds.socketPair()
            let (other, _) = try fds.socketPair()
            let io = try EventLoop(backend: backend).assumeIsolated()
            let connections = try Connections(loop: io) { _, _ in }
            let connection = try fds.handOver(fd, to: connections)
            io.close()
            #expect(!connection.isOpen)
            expectSelectorError(.write, fd: fd, .connectionClosed) { try connection.write("x") }
            connection.close()
            connection.abort()
            connections.closeAll()
            connections.drain(until: .now) {}
            let error = selectorError { try connections.adopt(other) }
            #expect(error?.fd == other, "\(String(describing: error))")
        }
    }
}
