import CSelectors
import EchoService
import Selectors
import Synchronization
import Testing

/// The server in-process, on its own thread, against real loopback sockets; every test runs
/// on every backend this system has, and unless it says otherwise in every `EchoMode`: the
/// callback API level- and edge-triggered, and the async API (a task per connection on its
/// loop, accepted with `Listener.connections(on:)`).
@Suite(.timeLimit(.minutes(2)))
struct EchoServerTests {
    @Test(arguments: Backend.available, EchoMode.allCases)
    func manyConcurrentClientsGetEveryByteBack(backend: Backend, mode: EchoMode) throws {
        let server = try startServer(backend, mode: mode)
        defer { server.stop() }
        let address = server.address
        let clients = 20
        let messagesPerClient = 3
        // A class, not a `Mutex` captured by the closure: ThreadSanitizer reported the
        // captured noncopyable `let` as a Swift access race between the client threads.
        let totals = Locked(0)
        let failures = onThreads(clients) { index in
            var random = SplitMix64(seed: 0xEC40 + UInt64(index))
            let fd = try Client.connect(address)
            defer { Socket.close(fd) }
            for _ in 0..<messagesPerClient {
                // Sizes spread evenly over the orders of magnitude from 1 byte to 1 MiB.
                let size = max(1, min(1 << 20, Int(pow2(Double.random(in: 0...20, using: &random)))))
                let message = randomBytes(size, &random)
                defer { message.deallocate() }
                try Client.exchange(fd, UnsafeRawBufferPointer(message))
                totals.withLock { $0 += size }
            }
        }
        #expect(failures.isEmpty, "\(failures)")
        let total = totals.withLock { $0 }
        #expect(eventually { server.statistics.active == 0 })
        let statistics = server.statistics
        #expect(statistics.accepted == clients)
        #expect(statistics.bytesEchoed == UInt64(total), "\(statistics)")
        #expect(statistics.bytesReceived == UInt64(total))
        #expect(statistics.errors.total == 0)
        #expect(statistics.pendingBytes == 0)
    }

    /// Many small round trips on one connection, each request after the last answer: every
    /// read of the server has to wait. (Written for the async API, where each such read is
    /// an awaited readiness.)
    @Test(arguments: Backend.available, [EchoMode.async])
    func manyRoundTripsOnOneConnection(backend: Backend, mode: EchoMode) throws {
        let server = try startServer(backend, mode: mode)
        defer { server.stop() }
        let fd = try Client.connect(server.address)
        defer { Socket.close(fd) }
        var random = SplitMix64(seed: 99)
        for round in 0..<500 {
            let message = randomBytes(1 + round % 300, &random)
            defer { message.deallocate() }
            try Client.exchange(fd, UnsafeRawBufferPointer(message), halfClose: round == 499)
        }
        #expect(eventually { server.statistics.active == 0 })
        #expect(server.statistics.errors.total == 0)
    }

    /// Deterministic: the client reads nothing until the server reports that it stopped
    /// reading, so the outcome never depends on which side runs faster. (With the async API
    /// the echo task stops reading by waiting in `drained()` once the mark is passed.)
    @Test(arguments: Backend.available, EchoMode.allCases)
    func slowReaderCannotPushPendingBytesPastTheHighWaterMark(backend: Backend, mode: EchoMode) throws {
        let highWaterMark = 256 * 1024
        let server = try startServer(backend, mode: mode) { $0.highWaterMark = highWaterMark }
        defer { server.stop() }
        let fd = try Client.connect(server.address)
        defer { Socket.close(fd) }
        Client.shrinkBuffers(fd)
        let pattern = Pattern()

        // Never reading: the server's writes back come up short, its pending output grows
        // past the mark, and it stops reading.
        let sent = try Client.write(fd, pattern, until: { server.statistics.readPauses > 0 })
        let paused = server.statistics
        // The pause comes after the read that crossed the mark: at most one read (the loop's
        // 64 KiB buffer) above it, and a buffer no larger than that, rounded up to a page.
        #expect(paused.peakPendingBytes > highWaterMark)
        #expect(paused.peakPendingBytes <= highWaterMark + 64 * 1024, "peak \(paused.peakPendingBytes)")
        #expect(
            paused.outputBufferBytes <= (highWaterMark + 64 * 1024 + 16 + 4095) & ~4095,
            "buffer \(paused.outputBufferBytes)")

        // Now read it all back while sending the rest: pauses and resumes, every byte intact.
        // What the kernel buffered before the pause showed varies (the server's receive
        // buffer grows to tcp_rmem's maximum, 32 MiB here): once, under ThreadSanitizer, more
        // than 8 MiB went out before it, so the total is never less than what was sent.
        let total = max(8 << 20, sent + (1 << 20))
        try Client.finishStream(fd, pattern, sent: sent, total: total)
        let statistics = server.statistics
        #expect(statistics.bytesEchoed == UInt64(total), "\(statistics)")
        #expect(statistics.readPauses >= 1)
        #expect(
            statistics.peakPendingBytes <= highWaterMark + 64 * 1024, "peak \(statistics.peakPendingBytes)")
        #expect(
            eventually { server.statistics.outputBufferBytes == 0 && server.statistics.pendingBytes == 0 })
    }

    @Test(arguments: Backend.available, EchoMode.allCases)
    func halfCloseGetsEverythingBackThenEndOfStream(backend: Backend, mode: EchoMode) throws {
        let server = try startServer(backend, mode: mode)
        defer { server.stop() }
        var random = SplitMix64(seed: 7)
        for size in [1, 1000, 3 << 20] {
            let message = randomBytes(size, &random)
            defer { message.deallocate() }
            let fd = try Client.connect(server.address)
            defer { Socket.close(fd) }
            try Client.exchange(fd, UnsafeRawBufferPointer(message), halfClose: true)
        }
        #expect(eventually { server.statistics.active == 0 })
        #expect(server.statistics.errors.total == 0)
    }

    @Test(arguments: Backend.available, EchoMode.allCases)
    func resetMidStreamClosesOnlyThatConnection(backend: Backend, mode: EchoMode) throws {
        let server = try startServer(backend, mode: mode)
        defer { server.stop() }
        let bystander = try Client.connect(server.address)
        defer { Socket.close(bystander) }
        try Client.roundTrip(server.address)

        // Send until the server stops reading (output pending, reading paused), then reset.
        let victim = try Client.connect(server.address)
        let sent = try Client.fillUntilServerStopsReading(victim, from: Pattern()) {
            server.statistics.readPauses > 0
        }
        #expect(sent > 256 * 1024)
        Socket.reset(victim)

        #expect(eventually { server.statistics.active == 1 })
        let statistics = server.statistics
        #expect(statistics.errors.resets + statistics.errors.brokenPipes >= 1, "\(statistics)")
        #expect(statistics.pendingBytes == 0)
        try Client.roundTrip(bystander, "still here")
        try Client.roundTrip(server.address)
    }

    @Test(arguments: Backend.available, EchoMode.allCases)
    func idleConnectionsAreClosedButNeverEarly(backend: Backend, mode: EchoMode) throws {
        // The callback API: a second, so a busy client that talks every 100 ms stays well
        // inside it even when a loaded machine holds its thread back (300 ms once let it look
        // idle), and at most two sweep periods (250 ms each) late, plus scheduling slack.
        // The async API keeps the tighter case its tests always made: 300 ms, and at most
        // 500 ms late (two sweep periods of 75 ms, plus slack).
        let (timeoutMilliseconds, lateness, busyRounds) = mode == .async ? (300, 0.5, 10) : (1000, 1.0, 20)
        let idleTimeout = Double(timeoutMilliseconds) / 1000
        let server = try startServer(backend, mode: mode) {
            $0.idleTimeout = .milliseconds(timeoutMilliseconds)
        }
        defer { server.stop() }
        let start = now()
        let sockets = ClientSockets()
        defer { sockets.closeAll() }
        let idle = try sockets.connect(server.address)
        let busy = try sockets.connect(server.address)
        let closedAt = Locked(0.0)  // a class: see `manyConcurrentClientsGetEveryByteBack`
        let watcher = TestThread {
            _ = Client.readUntilEnd(idle)
            closedAt.withLock { $0 = now() }
        }
        // The busy client talks every 100 ms for longer than the timeout: it must survive.
        for _ in 0..<busyRounds {
            var byte: [UInt8] = [42]
            try byte.withUnsafeMutableBytes { try Client.exchange(busy, UnsafeRawBufferPointer($0)) }
            sleep(seconds: 0.1)
        }
        watcher.join()
        let elapsed = closedAt.withLock { $0 } - start
        // Never early, and not late by more than `lateness`.
        #expect(elapsed >= idleTimeout)
        #expect(elapsed < idleTimeout + lateness)
        #expect(server.statistics.idleClosed == 1)
        #expect(server.statistics.active == 1)
        try Client.roundTrip(server.address)
    }

    @Test(arguments: Backend.available, EchoMode.allCases)
    func connectionsBeyondTheLimitAreClosedAtOnce(backend: Backend, mode: EchoMode) throws {
        let server = try startServer(backend, mode: mode) { $0.maxConnections = 2 }
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

    @Test(arguments: Backend.available, EchoMode.allCases)
    func severalLoopsShareThePort(backend: Backend, mode: EchoMode) throws {
        let server = try startServer(backend, mode: mode) { $0.threads = 3 }
        defer { server.stop() }
        let failures = onThreads(12) { _ in
            for _ in 0..<5 { try Client.roundTrip(server.address) }
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(eventually { server.statistics.active == 0 })
        #expect(server.statistics.accepted == 60)
        #expect(server.loopStatistics.count == 3)
        #expect(server.loopStatistics.map(\.accepted).reduce(0, +) == 60)
    }

    @Test(.enabled(if: ipv6LoopbackAvailable), arguments: Backend.available, [EchoMode.level, .edge])
    func servesIPv6Loopback(backend: Backend, mode: EchoMode) throws {
        let server = try startServer(backend, mode: mode, host: "::1")
        defer { server.stop() }
        #expect(server.address.family == .ipv6)
        try Client.roundTrip(server.address)
    }

    /// A graceful shutdown with an idle and a busy client: the busy one gets back everything
    /// the server read, then a reset (its unread input was dropped); the idle one an orderly
    /// end of stream; the server ends once both are gone, well before the drain deadline.
    @Test(arguments: Backend.available, EchoMode.allCases)
    func gracefulShutdownFlushesPendingOutputThenResetsWhereInputWasDropped(
        backend: Backend, mode: EchoMode
    ) throws {
        let server = try startServer(backend, mode: mode)
        let sockets = ClientSockets()
        defer { sockets.closeAll() }
        let idle = try sockets.connect(server.address)
        let busy = try sockets.connect(server.address)
        let pattern = Pattern()
        let sent = try Client.fillUntilServerStopsReading(busy, from: pattern) {
            server.statistics.readPauses > 0
        }
        #expect(eventually { server.statistics.active == 2 })

        server.shutdown()
        if mode == .async {
            // Let the drain begin before the busy client reads. Otherwise its echo task,
            // resumed as the output drains, may read the queued input just before the drain
            // starts, which then finds the connection quiet and closes it in order, while the
            // client's kernel still holds data the server's kernel has not been offered yet
            // (TCP does not tell). The callback modes read at once, as they always did.
            sleep(seconds: 0.2)
        }
        // Everything the server had read comes back (a prefix of what was sent), then a reset:
        // the rest of the input was dropped, and the client must not take the end for a
        // complete echo. The idle client, which lost nothing, gets an orderly end of stream.
        let (received, ending) = try Client.readPattern(busy, pattern)
        #expect(ending == .reset)
        #expect(received > 256 * 1024 && received <= sent)
        #expect(try Client.readPattern(idle, pattern) == (0, .endOfStream))
        sockets.close(busy)
        sockets.close(idle)
        let start = now()
        try server.wait()
        #expect(now() - start < 1.5, "the server should end when clients close, before the deadline")
        #expect(!server.isRunning)
        let statistics = server.statistics
        #expect(statistics.bytesEchoed == UInt64(received), "\(statistics)")
        #expect(statistics.aborted == 1)
        #expect(statistics.active == 0)
        #expect(throws: (any Error).self) { try Client.roundTrip(server.address) }
    }

    /// A shutdown with only idle clients ends at once: each gets an orderly end of stream.
    @Test(arguments: Backend.available, [EchoMode.async])
    func gracefulShutdownWithIdleClientsOnlyEndsAtOnce(backend: Backend, mode: EchoMode) throws {
        let server = try startServer(backend, mode: mode) { $0.drainTimeout = .seconds(10) }
        let sockets = ClientSockets()
        defer { sockets.closeAll() }
        let clients = try (0..<5).map { _ in try sockets.connect(server.address) }
        for fd in clients { try Client.roundTrip(fd) }
        let start = now()
        server.shutdown()
        for fd in clients { #expect(Client.readUntilEnd(fd) == (0, true)) }
        try server.wait()
        #expect(now() - start < 2, "idle clients kept the shutdown waiting")
        #expect(server.statistics.active == 0)
    }

    @Test(arguments: Backend.available, EchoMode.allCases)
    func stopClosesEverythingAtOnce(backend: Backend, mode: EchoMode) throws {
        let server = try startServer(backend, mode: mode)
        let client = try Client.connect(server.address)
        defer { Socket.close(client) }
        try Client.roundTrip(server.address)
        server.stop()
        server.stop()
        #expect(!server.isRunning)
        #expect(Client.readUntilEnd(client).ended)
        #expect(server.statistics.active == 0)
    }

    /// Guards against `stop()` ending a connection whose output was still pending with an
    /// orderly FIN, which the client could not tell from a complete echo.
    @Test(arguments: Backend.available, EchoMode.allCases)
    func stopResetsAConnectionThatStillHadOutputPending(backend: Backend, mode: EchoMode) throws {
        let server = try startServer(backend, mode: mode)
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
        #expect(statistics.aborted == 1)
        #expect(statistics.pendingBytes == 0 && statistics.outputBufferBytes == 0)
    }

    /// A never-reader closed for idleness loses its pending output: a reset, counted.
    @Test(arguments: Backend.available)
    func anIdleCloseWithOutputPendingIsAReset(backend: Backend) throws {
        let server = try startServer(backend) { $0.idleTimeout = .milliseconds(200) }
        defer { server.stop() }
        let fd = try Client.connect(server.address)
        defer { Socket.close(fd) }
        Client.shrinkBuffers(fd)
        let pattern = Pattern()
        _ = try Client.write(fd, pattern) { server.statistics.readPauses > 0 }
        #expect(eventually { server.statistics.idleClosed == 1 })
        #expect(try Client.readPattern(fd, pattern).ending == .reset)
        #expect(server.statistics.aborted == 1)
        #expect(server.statistics.outputBufferBytes == 0)
    }

    @Test func secondServerOnTheSamePortFailsWithAddressInUse() throws {
        let server = try startServer(.default)
        defer { server.stop() }
        var configuration = EchoServer.Configuration()
        configuration.port = server.address.port
        #expect {
            _ = try EchoServer.start(configuration)
        } throws: { error in
            guard case .cannotListen(_, let errno) = error as? EchoServerError else { return false }
            return errno == .addressInUse
        }
    }

    @Test func badConfigurationIsRefusedBeforeAnythingOpens() {
        var configuration = EchoServer.Configuration()
        configuration.port = 0
        configuration.lowWaterMark = configuration.highWaterMark
        #expect(throws: EchoServerError.self) { try EchoServer.start(configuration) }
        configuration = EchoServer.Configuration()
        configuration.host = "example.com"
        #expect(throws: EchoServerError.self) { try EchoServer.start(configuration) }
        configuration = EchoServer.Configuration()
        configuration.port = 0
        configuration.trigger = .oneShot
        #expect(throws: EchoServerError.self) { try EchoServer.start(configuration) }
    }

    // An edge-triggered listener is not reported again for connections still queued after
    // a full accept batch, so the worker must go on by itself; level mode gets a new report.
    @Test(arguments: Backend.available, [EchoMode.level, .edge])
    func connectionsQueuedBeyondOneAcceptBatchAreAllServed(backend: Backend, mode: EchoMode) throws {
        let server = try startServer(backend, mode: mode) { $0.acceptBatch = 1 }
        defer { server.stop() }
        // Connected as fast as possible, so several wait in the kernel's queue at once and one
        // edge stands for more connections than one batch accepts.
        let clients = try (0..<40).map { _ in try Client.connect(server.address) }
        defer { clients.forEach(Socket.close) }
        for fd in clients.reversed() {
            try Client.roundTrip(fd, "queued")
        }
        #expect(server.statistics.accepted == clients.count)
    }
}

private func pow2(_ exponent: Double) -> Double {
    var result = 1.0
    var remaining = exponent
    while remaining >= 1 {
        result *= 2
        remaining -= 1
    }
    // 2^x for the fractional part, close enough for picking message sizes.
    return result * (1 + remaining * (0.6931 + remaining * 0.2402))
}

/// `count` random bytes (deallocate them). Raw memory filled a word at a time: a generic `map`
/// on many client threads at once stalled for minutes under ThreadSanitizer, every thread
/// waiting in the runtime's generic-metadata cache.
private func randomBytes(_ count: Int, _ random: inout SplitMix64) -> UnsafeMutableRawBufferPointer {
    let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: (count + 7) & ~7, alignment: 8)
    for word in 0..<bytes.count / 8 {
        bytes.storeBytes(of: random.next(), toByteOffset: word * 8, as: UInt64.self)
    }
    return UnsafeMutableRawBufferPointer(rebasing: bytes[..<count])
}
