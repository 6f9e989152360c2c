import CSelectors
import Selectors
import Testing

/// UDP on loopback (and Unix datagram sockets at a path): each datagram whole, with its
/// sender's address; every wait bounded by `poll`.
@Suite struct DatagramTests {
    private static func send(_ fd: Int32, _ bytes: [UInt8], to address: SocketAddress) throws -> Int? {
        try bytes.withUnsafeBytes { buffer in try Socket.sendDatagram(fd, from: buffer, to: address) }
    }

    private static func receive(
        _ fd: Int32, limit: Int = 65_536
    ) throws -> (bytes: [UInt8], sender: SocketAddress?, truncated: Bool)? {
        var buffer = [UInt8](repeating: 0, count: limit)
        let result = try buffer.withUnsafeMutableBytes { raw in try Socket.receiveDatagram(fd, into: raw) }
        return result.map { (Array(buffer.prefix($0.count)), $0.sender, $0.truncated) }
    }

    private static func boundPair(
        _ address: SocketAddress
    ) throws -> (first: Int32, firstAddress: SocketAddress, second: Int32, secondAddress: SocketAddress) {
        let (first, firstAddress) = try Socket.makeDatagramSocket(address: address)
        let (second, secondAddress) = try Socket.makeDatagramSocket(address: address)
        return (first, firstAddress, second, secondAddress)
    }

    @Test func udpOnIPv4LoopbackDeliversDatagramsWithTheSendersAddress() throws {
        try withDescriptors { fds in
            let (a, aAddress, b, bAddress) = try Self.boundPair(.ipv4Loopback(port: 0))
            fds.adopt(a)
            fds.adopt(b)
            #expect(aAddress.port != 0 && aAddress.host == "127.0.0.1")
            #expect(isNonBlocking(a) && isCloseOnExec(a))
            #expect(try Self.send(a, Array("ping".utf8), to: bAddress) == 4)
            #expect(waitFor(b))
            let received = try #require(try Self.receive(b))
            #expect(received.bytes == Array("ping".utf8))
            #expect(received.sender == aAddress)
            #expect(!received.truncated)
            // Answer whoever sent it.
            #expect(try Self.send(b, Array("pong".utf8), to: try #require(received.sender)) == 4)
            #expect(waitFor(a))
            let reply = try #require(try Self.receive(a))
            #expect(reply.bytes == Array("pong".utf8))
            #expect(reply.sender == bAddress)
        }
    }

    @Test(
        .enabled(
            if: SocketTests.ipv6LoopbackAvailable, "::1 is not available on this host (no IPv6 loopback)"))
    func udpOnIPv6LoopbackDeliversDatagramsWithTheSendersAddress() throws {
        try withDescriptors { fds in
            let (a, aAddress, b, bAddress) = try Self.boundPair(.ipv6Loopback(port: 0))
            fds.adopt(a)
            fds.adopt(b)
            #expect(aAddress.family == .ipv6)
            #expect(try Self.send(a, [1, 2, 3], to: bAddress) == 3)
            #expect(waitFor(b))
            let received = try #require(try Self.receive(b))
            #expect(received.bytes == [1, 2, 3])
            #expect(received.sender == aAddress)
            #expect(received.sender?.description == "[::1]:\(aAddress.port)")
        }
    }

    @Test func receiveWithNothingQueuedReturnsNil() throws {
        try withDescriptors { fds in
            let (fd, _) = try Socket.makeDatagramSocket(address: .ipv4Loopback(port: 0))
            fds.adopt(fd)
            #expect(try Self.receive(fd) == nil)
        }
    }

    @Test func datagramLongerThanTheBufferIsReportedTruncatedAndTheRestIsGone() throws {
        try withDescriptors { fds in
            let (a, _, b, bAddress) = try Self.boundPair(.ipv4Loopback(port: 0))
            fds.adopt(a)
            fds.adopt(b)
            let long = (0..<100).map { UInt8($0) }
            #expect(try Self.send(a, long, to: bAddress) == 100)
            #expect(try Self.send(a, [9], to: bAddress) == 1)
            #expect(waitFor(b))
            let cut = try #require(try Self.receive(b, limit: 10))
            #expect(cut.bytes == Array(long.prefix(10)))
            #expect(cut.truncated, "the caller is told that 90 bytes were dropped")
            #expect(waitFor(b))
            let next = try #require(try Self.receive(b, limit: 10))
            #expect(next.bytes == [9], "one datagram per call: the next one, not the rest of the first")
            #expect(!next.truncated)
        }
    }

    @Test func emptyDatagramIsZeroBytesNotEndOfStream() throws {
        try withDescriptors { fds in
            let (a, aAddress, b, bAddress) = try Self.boundPair(.ipv4Loopback(port: 0))
            fds.adopt(a)
            fds.adopt(b)
            #expect(try Self.send(a, [], to: bAddress) == 0)
            #expect(waitFor(b))
            let received = try #require(try Self.receive(b))
            #expect(received.bytes == [])
            #expect(received.sender == aAddress)
            #expect(try Self.receive(b) == nil, "nothing more queued: an empty datagram ends nothing")
        }
    }

    @Test func sendToAnAddressOfAnotherFamilyThrowsInsteadOfSendingElsewhere() throws {
        try withDescriptors { fds in
            let (fd, _) = try Socket.makeDatagramSocket(address: .ipv4Loopback(port: 0))
            fds.adopt(fd)
            #expect(throws: Errno.addressFamilyNotSupported) {
                try Self.send(fd, [1], to: .ipv6Loopback(port: 9))
            }
        }
    }

    @Test func bindingAPortInUseFailsWithEADDRINUSEAndLeavesNothingOpen() throws {
        try withDescriptors { fds in
            let (fd, bound) = try Socket.makeDatagramSocket(address: .ipv4Loopback(port: 0))
            fds.adopt(fd)
            #expect(throws: Errno.addressInUse) { try Socket.makeDatagramSocket(address: bound) }
        }
    }

    @Test func unixDatagramSocketsAtPathsNameTheirSender() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try withDescriptors { fds in
            let (a, aAddress) = try Socket.makeDatagramSocket(address: try directory.socketAddress("a.sock"))
            let (b, bAddress) = try Socket.makeDatagramSocket(address: try directory.socketAddress("b.sock"))
            fds.adopt(a)
            fds.adopt(b)
            #expect(aAddress.unixPath == directory.file("a.sock"))
            #expect(try Self.send(a, Array("local".utf8), to: bAddress) == 5)
            #expect(waitFor(b))
            let received = try #require(try Self.receive(b))
            #expect(received.bytes == Array("local".utf8))
            #expect(received.sender == aAddress)
        }
    }

    @Test func datagramFromAnUnnamedUnixSocketHasAnUnnamedSender() throws {
        try withDescriptors { fds in
            var ends: [Int32] = [-1, -1]
            let type =
                Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            #expect(socketpair(AF_UNIX, type, 0, &ends) == 0)
            fds.adopt(ends[0])
            fds.adopt(ends[1])
            #expect(try [UInt8(7)].withUnsafeBytes { buffer in try Socket.write(ends[0], from: buffer) } == 1)
            let received = try #require(try Self.receive(ends[1]))
            #expect(received.bytes == [7])
            #expect(received.sender?.description == "(unnamed)")
        }
    }
}
