import CSelectors
import Selectors
import Synchronization
import Testing

/// Misuse of `Socket` and `Descriptor`: absurd fds, option values and addresses. See `Misuse`.
@Suite(.timeLimit(.minutes(2)))
struct SocketMisuseTests {
    @Test func socketCallsOnAbsurdDescriptorsThrow() {
        var byte: UInt8 = 0
        for fd in [Int32.min, -1, Int32.max] {
            #expect(throws: Errno.badFileDescriptor) {
                try withUnsafeMutableBytes(of: &byte) { try Socket.read(fd, into: $0) }
            }
            #expect(throws: Errno.badFileDescriptor) {
                try withUnsafeBytes(of: byte) { try Socket.write(fd, from: $0) }
            }
            #expect(throws: Errno.badFileDescriptor) { try Socket.setNonBlocking(fd) }
            #expect(throws: Errno.badFileDescriptor) { try Socket.setKeepAlive(fd, idleSeconds: 1) }
            #expect(throws: Errno.badFileDescriptor) { try Socket.unreadByteCount(fd) }
            #expect(throws: Errno.badFileDescriptor) { try SocketAddress.local(of: fd) }
            Socket.close(fd)
            Socket.reset(fd)
        }
    }

    @Test func socketOptionsAndAddressesWithAbsurdValues() throws {
        let (fd, server) = try tcpPair()
        defer {
            Socket.close(fd)
            Socket.close(server)
        }
        do {
            for bytes in [Int32.min, -1, 0, Int32.max] {
                try? Socket.setSendBufferSize(fd, bytes)
                try? Socket.setReceiveBufferSize(fd, bytes)
            }
            for seconds in [Int32.min, -1, 0, Int32.max] {
                #expect(throws: Errno.self) { try Socket.setKeepAlive(fd, idleSeconds: seconds) }
            }
        }
        for text in [
            "", ":", "::", "[::1]", "[::1]:", ":80", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:+80",
            "1.2.3.4:٨٠", "::1:80", "host:80", "\u{0}:80", String(repeating: "9", count: 10_000),
        ] {
            #expect(throws: Errno.self, "\(text)") { try SocketAddress(parsing: text) }
        }
        #expect(throws: Errno.self) { try SocketAddress(unixPath: "") }
        #expect(throws: Errno.self) { try SocketAddress(unixPath: "a\u{0}b") }
        #expect(throws: Errno.self) { try SocketAddress(unixPath: String(repeating: "x", count: 200)) }
        #expect(throws: Errno.self) { try SocketAddress(abstractUnixName: "") }
        #expect(throws: Errno.self) {
            try SocketAddress(abstractUnixName: String(repeating: "x", count: 200))
        }
        let listener = try Socket.makeListener(address: .ipv4Loopback(port: 0), backlog: Int32.min)
        defer { Socket.close(listener.fd) }
        for timeout in Misuse.absurdDurations where timeout <= .zero {
            // Refused or connected at once: either way no wait.
            if let fd = try? Socket.connect(to: listener.address, timeout: timeout) { Socket.close(fd) }
        }
        let connected = try Socket.connect(to: listener.address, timeout: .seconds(Int64.max) * 10)
        Socket.close(connected)
    }
}
