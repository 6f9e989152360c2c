import CSelectors
import EchoService
import Selectors
import Synchronization
import Testing

/// The echo server with `api: .async` (a task per connection on its loop, accepted with
/// `Listener.connections(on:)`), in-process against real loopback clients, on every backend:
/// the callback server's behaviour, from round trips to shutdowns.
@Suite(.timeLimit(.minutes(2)))
struct AsyncEchoServerTests {
    private func startAsyncServer(
        _ backend: Backend, _ adjust: (inout EchoServer.Configuration) -> Void = { _ in }
    ) throws -> RunningEchoServer {
        try startServer(backend) { configuration in
            configuration.api = .async
            adjust(&configuration)
        }
    }

    @Test(arguments: Backend.available)
    func manyConcurrentClientsGetEveryByteBack(backend: Backend) throws {
        let server = try startAsyncServer(backend)
        defer { server.stop() }
        let address = server.address
        let totals = Mutex(0)
        let failures = onThreads(16) { index in
            var random = SplitMix64(seed: 0xA5C0 + UInt64(index))
            let fd = try Client.connect(address)
            defer { Socket.close(fd) }
            for round in 0..<3 {
                // 1 byte to 1 MiB, spread over the orders of magnitude.
                let size = 1 << ((index * 3 + round * 7) % 21)
                let message = randomMessage(size, &random)
                defer { message.deallocate() }
                try Client.exchange(fd, UnsafeRawBufferPointer(message))
                totals.withLock { $0 += size }
            }
        }
        #expect(failures.isEmpty, "\(failures)")
        let total = totals.withLock { $0 }
        #expect(eventually { server.statistics.active == 0 })
        let statistics = server.statistics
        #expect(statistics.accepted == 16)
        #expect(statistics.bytesEchoed == UInt64(total), "\(statistics)")
        #expect(statistics.bytesReceived == UInt64(total))
        #expect(statistics.errors.total == 0)
        #expect(statistics.pendingBytes == 0)
    }

    /// Many small round trips on one connection, each request after the last answer: every
    /// read of the server has to wait.
    @Test(arguments: Backend.available)
    func manyRoundTripsOnOneConnection(backend: Backend) throws {
        let server = try startAsyncServer(backend)
        defer { server.stop() }
        let fd = try Client.connect(server.address)
        defer { Socket.close(fd) }
        var random = SplitMix64(seed: 99)
        for round in 0..<500 {
            let message = randomMessage(1 + round % 300, &random)
            defer { message.deallocate() }
            try Client.exchange(fd, UnsafeRawBufferPointer(message), halfClose: round == 499)
        }
        #expect(eventually { server.statistics.active == 0 })
        #expect(server.statistics.errors.total == 0)
    }

    @Test(arguments: Backend.available)
    func halfCloseGetsEverythingBackThenEndOfStream(backend: Backend) throws {
        let server = try startAsyncServer(backend)
        defer { server.stop() }
        var random = SplitMix64(seed: 7)
        for size in [1, 1000, 3 << 20] {
            let message = randomMessage(size, &random)
            defer { message.deallocate() }
            let fd = try Client.connect(server.address)
            defer { Socket.close(fd) }
            try Client.exchange(fd, UnsafeRawBufferPointer(message), halfClose: true)
        }
        #expect(eventually { server.statistics.active == 0 })
        #expect(server.statistics.errors.total == 0)
    }

    /// A client that does not read: the echo task waits in `drained()` once the high-water
    /// mark is passed, so it stops reading; reading it all back resumes it, every byte intact.
    @Test(arguments: Backend.available)
    func slowReaderCannotPushPendingBytesPastTheHighWaterMark(backend: Backend) throws {
        let highWaterMark = 256 * 1024
        let server = try startAsyncServer(backend) { $0.highWaterMark = highWaterMark }
        defer { server.stop() }
        let fd = try Client.connect(server.address)
        defer { Socket.close(fd) }
        Client.shrinkBuffers(fd)
        let pattern = Pattern()
        let sent = try Client.write(fd, pattern, until: { server.statistics.readPauses > 0 })
        let paused = server.statistics
        #expect(paused.peakPendingBytes > highWaterMark)
        #expect(paused.peakPendingBytes <= highWaterMark + 64 * 1024, "peak \(paused.peakPendingBytes)")
        let total = 8 << 20
        try Client.finishStream(fd, pattern, sent: sent, total: total)
        let statistics = server.statistics
        #expect(statistics.bytesEchoed == UInt64(total), "\(statistics)")
        #expect(
            statistics.peakPendingBytes <= highWaterMark + 64 * 1024, "peak \(statistics.peakPendingBytes)")
        #expect(
            eventually { server.statistics.outputBufferBytes == 0 && server.statistics.pendingBytes == 0 })
    }

    @Test(arguments: Backend.available)
    func resetMidStreamClosesOnlyThatConnection(backend: Backend) throws {
        let server = try startAsyncServer(backend)
        defer { server.stop() }
        let bystander = try Client.connect(server.address)
        defer { Socket.close(bystander) }
        try Client.roundTrip(server.address)
        let victim = try Client.connect(server.address)
        let sent = try Client.fillUntilBlocked(victim, from: Pattern())
        #expect(sent > 256 * 1024)
        Socket.reset(victim)
        #expect(eventually { server.statistics.active == 1 })
        let statistics = server.statistics
        #expect(statistics.errors.resets + statistics.errors.brokenPipes >= 1, "\(statistics)")
        #expect(statistics.pendingBytes == 0)
        var message = Array("still here".utf8)
        try message.withUnsafeMutableBytes { try Client.exchange(bystander, UnsafeRawBufferPointer($0)) }
        try Client.roundTrip(server.address)
    }

    @Test(arguments: Backend.available)
    func idleConnectionsAreClosedButNeverEarly(backend: Backend) throws {
        let server = try startAsyncServer(backend) { $0.idleTimeout = .milliseconds(300) }
        defer { server.stop() }
        let start = now()
        let sockets = ClientSockets()
        defer { sockets.closeAll() }
        let idle = try sockets.connect(server.address)
        let busy = try sockets.connect(server.address)
        let closedAt = Mutex(0.0)
        let watcher = TestThread {
            _ = Client.readUntilEnd(idle)
            closedAt.withLock { $0 = now() }
        }
        for _ in 0..<10 {
            var byte: [UInt8] = [42]
            try byte.withUnsafeMutableBytes { try Client.exchange(busy, UnsafeRawBufferPointer($0)) }
            sleep(seconds: 0.1)
        }
        watcher.join()
        let elapsed = closedAt.withLock { $0 } - start
        #expect(elapsed >= 0.3)
        #expect(elapsed < 0.8)
        #expect(server.statistics.idleClosed == 1)
        #expect(server.statistics.active == 1)
        try Client.roundTrip(server.address)
    }

    @Test(arguments: Backend.available)
    func connectionsBeyondTheLimitAreClosedAtOnce(backend: Backend) throws {
        let server = try startAsyncServer(backend) { $0.maxConnections = 2 }
        defer { server.stop() }
        let first = try Client.connect(server.address)
        let second = try Client.connect(server.address)
        defer { Socket.close(second) }
        try Client.roundTrip(first)
        try Client.roundTrip(second)
        let third = try Client.connect(server.address)
        defer { Socket.close(third) }
        let (count, ended) = Client.readUntilEnd(third)
        #expect(count == 0 && ended)
        #expect(server.statistics.rejected == 1)
        Socket.close(first)
        #expect(eventually { server.statistics.active == 1 })
        try Client.roundTrip(server.address)
        #expect(server.statistics.accepted == 3)
    }

    @Test(arguments: Backend.available)
    func severalLoopsShareThePort(backend: Backend) throws {
        let server = try startAsyncServer(backend) { $0.threads = 3 }
        defer { server.stop() }
        let failures = onThreads(12) { _ in
            for _ in 0..<5 { try Client.roundTrip(server.address) }
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(eventually { server.statistics.active == 0 })
        #expect(server.statistics.accepted == 60)
        #expect(server.loopStatistics.map(\.accepted).reduce(0, +) == 60)
    }

    /// A graceful shutdown with an idle and a busy client: the busy one gets back everything
    /// the server read, then a reset (its unread input was dropped); the idle one an orderly
    /// end of stream; the server ends once both are gone, well before the drain deadline.
    @Test(arguments: Backend.available)
    func gracefulShutdownFlushesPendingOutputThenResetsWhereInputWasDropped(backend: Backend) throws {
        let server = try startAsyncServer(backend)
        let sockets = ClientSockets()
        defer { sockets.closeAll() }
        let idle = try sockets.connect(server.address)
        let busy = try sockets.connect(server.address)
        let pattern = Pattern()
        let sent = try Client.fillUntilBlocked(busy, from: pattern)
        #expect(eventually { server.statistics.readPauses > 0 })
        #expect(eventually { server.statistics.active == 2 })

        server.shutdown()
        // Let the drain begin before the busy client reads. Otherwise its echo task, resumed
        // as the output drains, may read the queued input just before the drain starts, which
        // then finds the connection quiet and closes it in order, while the client's kernel
        // still holds data the server's kernel has not been offered yet (TCP does not tell).
        sleep(seconds: 0.2)
        let (received, ending) = try Client.readPattern(busy, pattern)
        #expect(ending == .reset)
        #expect(received > 256 * 1024 && received <= sent)
        #expect(try Client.readPattern(idle, pattern) == (0, .endOfStream))
        sockets.close(busy)
        sockets.close(idle)
        let start = now()
        server.wait()
        #expect(now() - start < 1.5, "the server should end when clients close, before the deadline")
        #expect(!server.isRunning)
        let statistics = server.statistics
        #expect(statistics.bytesEchoed == UInt64(received), "\(statistics)")
        #expect(statistics.active == 0)
        #expect(throws: (any Error).self) { try Client.roundTrip(server.address) }
    }

    /// A shutdown with only idle clients ends at once: each gets an orderly end of stream.
    @Test(arguments: Backend.available)
    func gracefulShutdownWithIdleClientsOnlyEndsAtOnce(backend: Backend) throws {
        let server = try startAsyncServer(backend) { $0.drainTimeout = .seconds(10) }
        let sockets = ClientSockets()
        defer { sockets.closeAll() }
        let clients = try (0..<5).map { _ in try sockets.connect(server.address) }
        for fd in clients { try Client.roundTrip(fd) }
        let start = now()
        server.shutdown()
        for fd in clients { #expect(Client.readUntilEnd(fd) == (0, true)) }
        server.wait()
        #expect(now() - start < 2, "idle clients kept the shutdown waiting")
        #expect(server.statistics.active == 0)
    }

    @Test(arguments: Backend.available)
    func stopClosesEverythingAtOnce(backend: Backend) throws {
        let server = try startAsyncServer(backend)
        let client = try Client.connect(server.address)
        defer { Socket.close(client) }
        try Client.roundTrip(server.address)
        server.stop()
        server.stop()
        #expect(!server.isRunning)
        #expect(Client.readUntilEnd(client).ended)
        #expect(server.statistics.active == 0)
    }

    /// `stop()` must not end a connection whose output was pending with an orderly FIN.
    @Test(arguments: Backend.available)
    func stopResetsAConnectionThatStillHadOutputPending(backend: Backend) throws {
        let server = try startAsyncServer(backend)
        let sockets = ClientSockets()
        defer { sockets.closeAll() }
        let idle = try sockets.connect(server.address)
        let busy = try sockets.connect(server.address)
        Client.shrinkBuffers(busy)
        let pattern = Pattern()
        _ = try Client.write(busy, pattern) { server.statistics.readPauses > 0 }
        server.stop()
        #expect(try Client.readPattern(busy, pattern).ending == .reset)
        #expect(try Client.readPattern(idle, pattern) == (0, .endOfStream))
        let statistics = server.statistics
        #expect(statistics.aborted >= 1)
        #expect(statistics.pendingBytes == 0 && statistics.outputBufferBytes == 0)
    }
}

/// `count` random bytes (deallocate them). Raw memory filled a word at a time, as the callback
/// tests do: a generic `map` on 16 client threads at once stalled for minutes under
/// ThreadSanitizer, every thread waiting in the runtime's generic-metadata cache.
private func randomMessage(_ count: Int, _ random: inout SplitMix64) -> UnsafeMutableRawBufferPointer {
    let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: (count + 7) & ~7, alignment: 8)
    for word in 0..<bytes.count / 8 {
        bytes.storeBytes(of: random.next(), toByteOffset: word * 8, as: UInt64.self)
    }
    return UnsafeMutableRawBufferPointer(rebasing: bytes[..<count])
}

extension Client {
    /// `exchange` of a short message on an open connection.
    static func roundTrip(_ fd: Int32, _ text: String = "ping") throws {
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBytes { try exchange(fd, UnsafeRawBufferPointer($0)) }
    }
}
