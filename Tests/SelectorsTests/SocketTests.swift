import CSelectors
import Selectors
import Testing

/// Real loopback sockets only (127.0.0.1 and ::1); every wait is bounded by `poll`.
@Suite struct SocketTests {
    // MARK: helpers

    /// Waits up to `milliseconds` for `events` on `fd`; true if they arrived.
    private static func wait(_ fd: Int32, for events: Int32 = Int32(POLLIN), milliseconds: Int32 = 2000)
        -> Bool
    {
        var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
        return poll(&entry, 1, milliseconds) == 1
    }

    /// A listener on `address`, a connected client, and the accepted server end.
    private static func connectedPair(
        _ address: SocketAddress = .ipv4Loopback(port: 0)
    ) throws -> (listener: Int32, client: Int32, server: Int32) {
        let (listener, bound) = try Socket.makeListener(address: address)
        let (client, pending) = try Socket.connect(to: bound)
        #expect(!pending, "a blocking connect finishes before returning")
        #expect(wait(listener))
        let server = try #require(try Socket.accept(listener))
        return (listener, client, server)
    }

    private static func closeAll(_ fds: Int32...) {
        for fd in fds { Socket.close(fd) }
    }

    private static func send(_ fd: Int32, _ bytes: [UInt8]) throws -> Int? {
        try bytes.withUnsafeBytes { buffer throws(Errno) in try Socket.write(fd, from: buffer) }
    }

    /// Reads exactly `count` bytes, waiting for each chunk; fewer if the stream ends.
    private static func receive(_ fd: Int32, count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while result.count < count {
            #expect(wait(fd), "data should arrive within the wait")
            let read = try buffer.withUnsafeMutableBytes { raw throws(Errno) in
                try Socket.read(
                    fd, into: UnsafeMutableRawBufferPointer(rebasing: raw.prefix(count - result.count)))
            }
            guard let read else { continue }
            if read == 0 { break }
            result += buffer.prefix(read)
        }
        return result
    }

    private static func readOnce(_ fd: Int32) throws -> Int? {
        var buffer = [UInt8](repeating: 0, count: 64)
        return try buffer.withUnsafeMutableBytes { raw throws(Errno) in try Socket.read(fd, into: raw) }
    }

    private static func isCloseOnExec(_ fd: Int32) -> Bool {
        cselectors_fcntl_get(fd, F_GETFD) & FD_CLOEXEC != 0
    }

    private static func isNonBlocking(_ fd: Int32) -> Bool {
        cselectors_fcntl_get(fd, F_GETFL) & O_NONBLOCK != 0
    }

    // MARK: listen, connect, accept

    @Test func listenerOnPortZeroReportsTheRealPort() throws {
        let (listener, bound) = try Socket.makeListener(address: .ipv4Loopback(port: 0))
        defer { Socket.close(listener) }
        #expect(bound.port != 0)
        #expect(bound.host == "127.0.0.1")
        #expect(try SocketAddress.local(of: listener) == bound)
        #expect(Self.isNonBlocking(listener))
        #expect(Self.isCloseOnExec(listener))
    }

    @Test func acceptWithNothingQueuedReturnsNil() throws {
        let (listener, _) = try Socket.makeListener(address: .ipv4Loopback(port: 0))
        defer { Socket.close(listener) }
        #expect(try Socket.accept(listener) == nil)
    }

    @Test func acceptedAndConnectedSocketsAreCloseOnExecAndAcceptedIsNonBlocking() throws {
        let (listener, client, server) = try Self.connectedPair()
        defer { Self.closeAll(listener, client, server) }
        #expect(Self.isCloseOnExec(client))
        #expect(Self.isCloseOnExec(server))
        #expect(Self.isNonBlocking(server))
        #expect(!Self.isNonBlocking(client))
        #expect(try SocketAddress.peer(of: server) == SocketAddress.local(of: client))
    }

    @Test func echoBytesBothWays() throws {
        let (listener, client, server) = try Self.connectedPair()
        defer { Self.closeAll(listener, client, server) }
        let message: [UInt8] = Array("hello, selectors".utf8)
        #expect(try Self.send(client, message) == message.count)
        let received = try Self.receive(server, count: message.count)
        #expect(received == message)
        #expect(try Self.send(server, received) == message.count)
        #expect(try Self.receive(client, count: message.count) == message)
    }

    @Test func emptyNonBlockingReadReturnsNil() throws {
        let (listener, client, server) = try Self.connectedPair()
        defer { Self.closeAll(listener, client, server) }
        #expect(try Self.readOnce(server) == nil)
        try Socket.setNonBlocking(client)
        #expect(Self.isNonBlocking(client))
        #expect(try Self.readOnce(client) == nil)
        try Socket.setNonBlocking(client, false)
        #expect(!Self.isNonBlocking(client))
    }

    /// A blocking read with a receive timeout gives up with nil when nothing comes, reads what
    /// does come, and waits without a bound again once the timeout is taken off (seen through
    /// `getsockopt`: the test never blocks on it).
    @Test func receiveTimeoutBoundsABlockingRead() throws {
        let (listener, client, server) = try Self.connectedPair()
        defer { Self.closeAll(listener, client, server) }
        #expect(!Self.isNonBlocking(client))
        try Socket.setReceiveTimeout(client, .milliseconds(20))
        #expect(try Self.readOnce(client) == nil)
        #expect(try Self.send(server, [1, 2, 3]) == 3)
        #expect(try Self.receive(client, count: 3) == [1, 2, 3])
        // The kernel keeps it in its clock ticks, rounding up: read back, it may be a little more.
        #expect((20_000..<1_000_000).contains(Self.receiveTimeout(client)))
        try Socket.setReceiveTimeout(client, .nanoseconds(1_500_000_001))  // rounded up
        #expect((1_500_001..<2_000_000).contains(Self.receiveTimeout(client)))
        try Socket.setReceiveTimeout(client, nil)
        #expect(Self.receiveTimeout(client) == 0)
        // Zero would mean "no bound" to the kernel: refused, as is a negative one.
        #expect(throws: Errno.invalidArgument) { try Socket.setReceiveTimeout(client, .zero) }
        #expect(throws: Errno.invalidArgument) { try Socket.setReceiveTimeout(client, .seconds(-1)) }
        #expect(throws: Errno.badFileDescriptor) { try Socket.setReceiveTimeout(-1, .seconds(1)) }
    }

    /// `SO_RCVTIMEO`, in microseconds.
    private static func receiveTimeout(_ fd: Int32) -> Int {
        var value = timeval()
        var length = socklen_t(MemoryLayout<timeval>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, &length)
        return Int(value.tv_sec) * 1_000_000 + Int(value.tv_usec)
    }

    @Test func shutdownWriteGivesThePeerEndOfStreamAfterTheData() throws {
        let (listener, client, server) = try Self.connectedPair()
        defer { Self.closeAll(listener, client, server) }
        #expect(try Self.send(client, [1, 2, 3]) == 3)
        try Socket.shutdownWrite(client)
        #expect(try Self.receive(server, count: 3) == [1, 2, 3])
        #expect(Self.wait(server))
        #expect(try Self.readOnce(server) == 0)
        // The other direction still works after the half-close.
        #expect(try Self.send(server, [9]) == 1)
        #expect(try Self.receive(client, count: 1) == [9])
    }

    @Test func writeAfterShutdownFailsWithEPIPEAndDoesNotRaiseSIGPIPE() throws {
        let (listener, client, server) = try Self.connectedPair()
        defer { Self.closeAll(listener, client, server) }
        try Socket.shutdownWrite(client)
        // Without MSG_NOSIGNAL / SO_NOSIGPIPE this would kill the test process.
        #expect(throws: Errno.brokenPipe) { try Self.send(client, [1]) }
    }

    @Test func resetPeerSurfacesAsErrnoOnReadAndWrite() throws {
        let (listener, client, server) = try Self.connectedPair()
        defer { Self.closeAll(listener, client) }
        Socket.reset(server)
        #expect(Self.wait(client))
        #expect(throws: Errno.connectionReset) { try Self.readOnce(client) }
        // After the reset has been reported, writes fail with EPIPE, still without SIGPIPE.
        #expect(throws: Errno.brokenPipe) { try Self.send(client, [1, 2, 3]) }
    }

    @Test func writingToAResetConnectionThrowsWithoutSIGPIPE() throws {
        let (listener, client, server) = try Self.connectedPair()
        defer { Self.closeAll(listener, client) }
        Socket.reset(server)
        #expect(Self.wait(client))
        // The first write meets the pending ECONNRESET, later ones EPIPE; either way an Errno.
        var failure: Errno?
        for _ in 0..<3 {
            do { _ = try Self.send(client, [1]) } catch { failure = error as? Errno }
        }
        #expect(failure == .brokenPipe || failure == .connectionReset)
    }

    @Test func connectToAClosedPortIsRefused() throws {
        let (listener, bound) = try Socket.makeListener(address: .ipv4Loopback(port: 0))
        Socket.close(listener)
        #expect(throws: Errno.connectionRefused) { try Socket.connect(to: bound) }
    }

    @Test func nonBlockingConnectToAClosedPortReportsRefused() throws {
        let (listener, bound) = try Socket.makeListener(address: .ipv4Loopback(port: 0))
        Socket.close(listener)
        do {
            let (fd, pending) = try Socket.connect(to: bound, nonBlocking: true)
            defer { Socket.close(fd) }
            #expect(pending)
            #expect(Self.wait(fd, for: Int32(POLLOUT)))
            #expect(try Socket.connectResult(fd) == .connectionRefused)
        } catch {
            // Loopback may refuse synchronously; that is the same answer.
            #expect(error == .connectionRefused)
        }
    }

    @Test func nonBlockingConnectCompletes() throws {
        let (listener, bound) = try Socket.makeListener(address: .ipv4Loopback(port: 0))
        defer { Socket.close(listener) }
        let (fd, pending) = try Socket.connect(to: bound, nonBlocking: true)
        defer { Socket.close(fd) }
        #expect(Self.isNonBlocking(fd))
        if pending { #expect(Self.wait(fd, for: Int32(POLLOUT))) }
        #expect(try Socket.connectResult(fd) == nil)
        #expect(Self.wait(listener))
        let server = try #require(try Socket.accept(listener))
        Socket.close(server)
    }

    @Test func connectFromABoundSourceAddress() throws {
        let (listener, bound) = try Socket.makeListener(address: .ipv4Loopback(port: 0))
        defer { Socket.close(listener) }
        let source = try SocketAddress(host: "127.0.0.5", port: 0)
        let (client, _) = try Socket.connect(to: bound, sourceAddress: source)
        defer { Socket.close(client) }
        let local = try SocketAddress.local(of: client)
        #expect(local.host == "127.0.0.5")
        #expect(local.port != 0)
        #expect(Self.wait(listener))
        let server = try #require(try Socket.accept(listener))
        defer { Socket.close(server) }
        #expect(try SocketAddress.peer(of: server) == local)
    }

    @Test func secondListenerOnTheSamePortNeedsReusePort() throws {
        let (first, bound) = try Socket.makeListener(address: .ipv4Loopback(port: 0))
        defer { Socket.close(first) }
        #expect(throws: Errno.addressInUse) { try Socket.makeListener(address: bound) }

        let (shared, sharedAddress) = try Socket.makeListener(
            address: .ipv4Loopback(port: 0), reusePort: true)
        defer { Socket.close(shared) }
        let (second, secondAddress) = try Socket.makeListener(address: sharedAddress, reusePort: true)
        defer { Socket.close(second) }
        #expect(secondAddress == sharedAddress)
    }

    @Test func noDelayAndLingerOptionsAreSet() throws {
        let (listener, client, server) = try Self.connectedPair()
        defer { Self.closeAll(listener, client, server) }
        try Socket.setNoDelay(client)
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length)
        #expect(value != 0)
        try Socket.setNoDelay(client, false)
        getsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length)
        #expect(value == 0)
        try Socket.setLinger0(client)
        var option = linger()
        length = socklen_t(MemoryLayout<linger>.size)
        getsockopt(client, SOL_SOCKET, SO_LINGER, &option, &length)
        #expect(option.l_onoff != 0 && option.l_linger == 0)
    }

    /// On a reserved closed number: a listener's number freed by `close` can be another
    /// test's socket a moment later, and this test's `read` would then steal that socket's
    /// bytes (it once blocked for 10 s inside an echo test's connection).
    @Test func operationsOnAClosedDescriptorThrowEBADF() async throws {
        try await FixedDescriptorNumbers.withClosedNumber { closed in
            #expect(throws: Errno.badFileDescriptor) { try Socket.accept(closed) }
            #expect(throws: Errno.badFileDescriptor) { try Self.readOnce(closed) }
            #expect(throws: Errno.badFileDescriptor) { try Socket.setNoDelay(closed) }
        }
    }

    /// Runs in a child process (an exit test), since it lowers the descriptor limit.
    @Test func acceptOutOfDescriptorsThrowsEMFILEAndTheConnectionWaits() async {
        await #expect(processExitsWith: .success) {
            guard let (listener, bound) = try? Socket.makeListener(address: .ipv4Loopback(port: 0)),
                let (client, _) = try? Socket.connect(to: bound)
            else { exit(10) }
            // Allow no descriptor beyond those open now, then fill every free slot below; `spare`
            // makes sure there is at least one filler to give back later.
            let spare = dup(0)
            var limit = rlimit()
            getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            limit.rlim_cur = rlim_t(max(listener, client, spare) + 1)
            guard spare >= 0, setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
                exit(11)
            }
            Socket.close(spare)
            var lastFiller: Int32 = -1
            while true {
                let fd = dup(0)
                if fd < 0 { break }
                lastFiller = fd
            }
            guard cselectors_errno() == EMFILE, lastFiller >= 0 else { exit(16) }
            do throws(Errno) {
                _ = try Socket.accept(listener)
                exit(12)
            } catch {
                guard error == .tooManyOpenFiles else { exit(13) }
            }
            // The connection stayed queued: with a descriptor free again, accept takes it. The
            // wait covers a loaded machine, where the kernel may queue the connection only
            // after `connect` returned.
            Socket.close(lastFiller)
            var readable = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            _ = poll(&readable, 1, 5_000)
            guard let accepted = try? Socket.accept(listener), accepted >= 0 else { exit(14) }
            // Give the limit back, so exit-time work (LeakSanitizer's report, say) can open files.
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            exit(0)
        }
    }

    // MARK: IPv6

    /// Whether `::1` can be bound here; containers sometimes run without IPv6.
    static let ipv6LoopbackAvailable: Bool = {
        guard let (fd, _) = try? Socket.makeListener(address: .ipv6Loopback(port: 0)) else { return false }
        Socket.close(fd)
        return true
    }()

    @Test(.enabled(if: ipv6LoopbackAvailable, "::1 is not available on this host (no IPv6 loopback)"))
    func ipv6LoopbackEcho() throws {
        let (listener, client, server) = try Self.connectedPair(.ipv6Loopback(port: 0))
        defer { Self.closeAll(listener, client, server) }
        let bound = try SocketAddress.local(of: listener)
        #expect(bound.family == .ipv6)
        #expect(bound.description == "[::1]:\(bound.port)")
        #expect(try Self.send(client, [4, 5, 6]) == 3)
        #expect(try Self.receive(server, count: 3) == [4, 5, 6])
    }

    // MARK: addresses

    @Test func addressFormatting() throws {
        let v4 = try SocketAddress(host: "127.0.0.1", port: 7000)
        #expect(v4.description == "127.0.0.1:7000")
        #expect(v4.family == .ipv4)
        #expect(v4.port == 7000)
        #expect(v4.host == "127.0.0.1")
        #expect(v4.isIPv4Loopback)
        #expect(v4 == .ipv4Loopback(port: 7000))

        let v6 = try SocketAddress(host: "::1", port: 7000)
        #expect(v6.description == "[::1]:7000")
        #expect(v6.family == .ipv6)
        #expect(!v6.isIPv4Loopback)
        #expect(v6 == .ipv6Loopback(port: 7000))
        #expect(try SocketAddress(host: "[::1]", port: 7000) == v6)

        #expect(try SocketAddress(host: "localhost", port: 80) == .ipv4Loopback(port: 80))
        #expect(v4.with(port: 9).description == "127.0.0.1:9")
        #expect(v6.with(port: 9).description == "[::1]:9")
        #expect(Set([v4, v4.with(port: 7000), v6]).count == 2)
        #expect(try SocketAddress(host: "10.1.2.3", port: 1).isIPv4Loopback == false)
    }

    @Test(arguments: ["", "256.0.0.1", "1.2.3", "example.com", "::g", "[::1", "127.0.0.1 "])
    func badHostsAreRefused(_ host: String) {
        #expect(throws: Errno.invalidArgument) { try SocketAddress(host: host, port: 1) }
    }

    @Test func parsingHostAndPort() throws {
        #expect(try SocketAddress(parsing: "127.0.0.1:7000") == .ipv4Loopback(port: 7000))
        #expect(try SocketAddress(parsing: "localhost:0") == .ipv4Loopback(port: 0))
        #expect(try SocketAddress(parsing: "[::1]:65535") == .ipv6Loopback(port: 65535))
        let text = "[::1]:7000"
        #expect(try SocketAddress(parsing: text).description == text)
    }

    @Test(arguments: [
        "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:80", ":80", "[::1]x:80",
        "127.0.0.1:8O",
    ])
    func badHostPortTextIsRefused(_ text: String) {
        #expect(throws: Errno.invalidArgument) { try SocketAddress(parsing: text) }
    }
}
