import CSelectors
import EchoService
import Glibc
import Selectors
import Synchronization
import Testing

/// What an operator sees of an in-process server: how closes are counted, the notices it
/// logs (rate-limited), live statistics, keepalive, the select backend's descriptor limit.
@Suite(.timeLimit(.minutes(2)))
struct EchoServerOperatorTests {
    /// The attack run saw normal client closes reported as resets: a clean end of stream is
    /// "closed by the client", a reset is a reset, and neither is a server-side error.
    @Test(arguments: Backend.available)
    func normalClosesAreNotCountedAsResets(backend: Backend) throws {
        let server = try startServer(backend)
        defer { server.stop() }
        try Client.roundTrip(server.address)
        let halfClosing = try Client.connect(server.address)
        var message = Array("half".utf8)
        try message.withUnsafeMutableBytes {
            try Client.exchange(halfClosing, UnsafeRawBufferPointer($0), halfClose: true)
        }
        Socket.close(halfClosing)
        #expect(eventually { server.statistics.active == 0 })
        var statistics = server.statistics
        #expect(statistics.closedByClient == 2)
        #expect(statistics.errors.resets + statistics.errors.brokenPipes == 0)

        let victim = try Client.connect(server.address)
        try message.withUnsafeMutableBytes { try Client.exchange(victim, UnsafeRawBufferPointer($0)) }
        Socket.reset(victim)
        #expect(eventually { server.statistics.active == 0 })
        statistics = server.statistics
        #expect(statistics.closedByClient == 2)
        #expect(statistics.errors.resets + statistics.errors.brokenPipes == 1)
        #expect(statistics.errors.serverSide == 0)
        #expect(statistics.description.contains("closed by clients 2, reset by clients 1"), "\(statistics)")
        #expect(statistics.description.contains("errors: 0 out of descriptors, 0 other"), "\(statistics)")
    }

    @Test(arguments: Backend.available)
    func rejectionsAreLoggedAtMostOncePerSecond(backend: Backend) throws {
        let log = LogCollector()
        let server = try startServer(backend) {
            $0.maxConnections = 1
            $0.log = log.append
        }
        defer { server.stop() }
        let first = try Client.connect(server.address)
        defer { Socket.close(first) }
        var message = Array("ping".utf8)
        try message.withUnsafeMutableBytes { try Client.exchange(first, UnsafeRawBufferPointer($0)) }
        let rejections = 20
        for _ in 0..<rejections {
            let fd = try Client.connect(server.address)
            #expect(Client.readUntilEnd(fd).ended)
            Socket.close(fd)
        }
        #expect(server.statistics.rejected == rejections)
        let notices = log.lines.filter { $0.hasPrefix("rejected ") }
        #expect(notices.first == "rejected 1 connection: 1 open already (the maximum)", "\(notices)")
        // One line per second at most, each counting the ones held back since the last.
        #expect(notices.count < rejections)
        #expect(notices.map(leadingCount).reduce(0, +) <= rejections)
    }

    @Test(arguments: Backend.available)
    func idleClosesAreLogged(backend: Backend) throws {
        let log = LogCollector()
        let server = try startServer(backend) {
            $0.idleTimeout = .milliseconds(200)
            $0.log = log.append
        }
        defer { server.stop() }
        let idle = try Client.connect(server.address)
        defer { Socket.close(idle) }
        #expect(Client.readUntilEnd(idle).ended)
        #expect(
            eventually { log.lines.contains("closed 1 idle connection (no progress for 0.2 seconds)") },
            "\(log.lines)")
    }

    @Test(arguments: Backend.available)
    func backpressurePausesAreLogged(backend: Backend) throws {
        let log = LogCollector()
        let server = try startServer(backend) {
            $0.highWaterMark = 64 * 1024
            $0.lowWaterMark = 16 * 1024
            $0.log = log.append
        }
        defer { server.stop() }
        let fd = try Client.connect(server.address)
        defer { Socket.close(fd) }
        let expected =
            "backpressure: paused reading 1 time: a client had more than 65536 bytes waiting to be sent to it "
            + "(reading resumes at 16384)"
        _ = try Client.fillUntilServerStopsReading(fd, from: Pattern()) { log.lines.contains(expected) }
        #expect(log.lines.contains(expected), "\(log.lines)")
    }

    @Test(arguments: Backend.available)
    func statisticsAreReportedEveryInterval(backend: Backend) throws {
        let reports = Mutex<[EchoStatistics]>([])
        let log = LogCollector()
        let server = try startServer(backend) {
            $0.statisticsInterval = .milliseconds(20)
            $0.statisticsReport = { statistics in reports.withLock { $0.append(statistics) } }
        }
        defer { server.stop() }
        try Client.roundTrip(server.address)
        #expect(eventually { reports.withLock { $0.contains { $0.accepted == 1 && $0.active == 0 } } })

        // Without a report closure, the line goes to the log.
        let logged = try startServer(backend) {
            $0.statisticsInterval = .milliseconds(20)
            $0.log = log.append
        }
        defer { logged.stop() }
        #expect(eventually { log.lines.contains { $0.hasPrefix("statistics: 0 open, 0 bytes pending") } })
    }

    /// `keepAlive` reaches the accepted socket: found in this process's descriptor table by its
    /// addresses, then asked with `getsockopt`.
    @Test(arguments: Backend.available)
    func keepAliveIsSetOnAcceptedConnections(backend: Backend) throws {
        let server = try startServer(backend) { $0.keepAlive = .seconds(7) }
        defer { server.stop() }
        let client = try Client.connect(server.address)
        defer { Socket.close(client) }
        var message = Array("k".utf8)
        try message.withUnsafeMutableBytes { try Client.exchange(client, UnsafeRawBufferPointer($0)) }
        let clientAddress = try SocketAddress.local(of: client)
        let accepted = (0..<Int32(4096)).first { fd in
            fd != client && (try? SocketAddress.peer(of: fd)) == clientAddress
                && (try? SocketAddress.local(of: fd))?.port == server.address.port
        }
        guard let accepted else { throw TestFailure("the accepted socket was not found") }
        #expect(socketOption(accepted, SOL_SOCKET, SO_KEEPALIVE) == 1)
        #expect(socketOption(accepted, Int32(IPPROTO_TCP), TCP_KEEPIDLE) == 7)
        #expect(socketOption(accepted, Int32(IPPROTO_TCP), TCP_KEEPINTVL) == 7)
    }

    /// The attack run found select silently closing every connection on fds from 1,024 up:
    /// a backend with a descriptor limit below the open-files limit is announced at start.
    @Test(arguments: Backend.available)
    func aBackendLimitBelowTheOpenFilesLimitIsWarnedOfAtStart(backend: Backend) throws {
        let log = LogCollector()
        let server = try startServer(backend) { $0.log = log.append }
        defer { server.stop() }
        let limit = try Selector(backend: backend).descriptorLimit
        let openFiles = cselectors_open_files_limit()
        let warnings = log.lines.filter { $0.hasPrefix("warning: ") }
        if let limit, openFiles < 0 || openFiles > Int64(limit) {
            #expect(warnings.count == 1)
            #expect(
                warnings.first?.hasPrefix(
                    "warning: the \(backend) backend cannot watch descriptors from \(limit) up")
                    == true, "\(warnings)")
        } else {
            #expect(warnings.isEmpty, "\(warnings)")
        }
    }

    /// A second server on a port in use fails, whatever the thread counts: the loops share one
    /// listening socket, without `SO_REUSEPORT` (which let a second instance join the port).
    @Test(arguments: [1, 2, 4])
    func aSecondServerCannotJoinThePort(threads: Int) throws {
        let server = try startServer(.default) { $0.threads = threads }
        defer { server.stop() }
        for second in [1, 2, 4] {
            var configuration = EchoServer.Configuration()
            configuration.port = server.address.port
            configuration.threads = second
            #expect {
                _ = try EchoServer.start(configuration)
            } throws: { error in
                guard case .cannotListen(_, let errno) = error as? EchoServerError else { return false }
                return errno == .addressInUse
            }
        }
        let failures = onThreads(8) { _ in
            for _ in 0..<5 { try Client.roundTrip(server.address) }
        }
        #expect(failures.isEmpty, "\(failures)")
    }
}

/// Collects log lines from any thread.
final class LogCollector: Sendable {
    private let storage = Mutex<[String]>([])

    var lines: [String] { storage.withLock { $0 } }

    var append: @Sendable (String) -> Void {
        { [self] line in storage.withLock { $0.append(line) } }
    }
}

/// The number a notice starts with after its verb (`rejected 3 connections` -> 3).
private func leadingCount(_ line: String) -> Int {
    Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

private func socketOption(_ fd: Int32, _ level: Int32, _ option: Int32) -> Int32 {
    var value: Int32 = -1
    var length = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(fd, level, option, &value, &length) == 0 else { return -1 }
    return value
}
