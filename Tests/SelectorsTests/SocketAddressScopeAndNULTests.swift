import CSelectors
import Testing

@testable import Selectors

#if canImport(Glibc)
    import Glibc
#endif

/// SocketAddress text parsing and formatting against its documented contract.
@Suite struct SocketAddressScopeAndNULTests {
    /// `init(host:port:)` "Throws: EINVAL when host is not a numeric address". A host with an
    /// embedded NUL is not one, but inet_pton sees only the C string up to the NUL.
    @Test(arguments: ["127.0.0.1\u{0}junk", "::1\u{0}evil.example", "10.0.0.1\u{0}"])
    func hostWithEmbeddedNULIsRefused(_ host: String) {
        #expect(throws: Errno.invalidArgument, "\(host.debugDescription)") {
            let parsed = try SocketAddress(host: host, port: 80)
            print("accepted \(host.debugDescription) as \(parsed)")
        }
    }

    @Test(arguments: ["127.0.0.1\u{0}junk:80", "[::1\u{0}junk]:80"])
    func hostPortTextWithEmbeddedNULIsRefused(_ text: String) {
        #expect(throws: Errno.invalidArgument, "\(text.debugDescription)") {
            let parsed = try SocketAddress(parsing: text)
            print("accepted \(text.debugDescription) as \(parsed)")
        }
    }

    /// Brackets are for IPv6 ("IPv6 hosts need the brackets"); `description` never prints a
    /// bracketed IPv4 address, yet "[127.0.0.1]:80" parses as IPv4.
    @Test func bracketedIPv4IsRefused() {
        #expect(throws: Errno.invalidArgument) { try SocketAddress(parsing: "[127.0.0.1]:80") }
        #expect(throws: Errno.invalidArgument) { try SocketAddress(host: "[127.0.0.1]", port: 80) }
    }

    /// `description`: "`init(parsing:)` reads it back". An IPv6 link-local address with a scope
    /// id (what the kernel reports for a socket bound or connected on a link-local address)
    /// prints without its scope, so what is read back is a different address (== compares the
    /// scope), one that `bind`/`connect` refuse with EINVAL for want of an interface.
    @Test func scopedIPv6AddressRoundTripsThroughItsDescription() throws {
        var value = sockaddr_in6()
        value.sin6_family = sa_family_t(AF_INET6)
        value.sin6_port = UInt16(8080).bigEndian
        withUnsafeMutableBytes(of: &value.sin6_addr) {
            $0[0] = 0xfe
            $0[1] = 0x80
            $0[15] = 1
        }
        value.sin6_scope_id = 1  // lo
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { target in
            withUnsafeBytes(of: value) { target.copyMemory(from: $0) }
        }
        let scoped = try #require(
            SocketAddress(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size)))
        let text = scoped.description
        let reread = try? SocketAddress(parsing: text)
        #expect(reread == scoped, "\(text) read back as \(reread.map { "\($0)" } ?? "an error")")
        // The usual text forms of a scoped address are refused outright.
        #expect((try? SocketAddress(host: "fe80::1%1", port: 8080)) == scoped)
        #expect((try? SocketAddress(parsing: "[fe80::1%lo]:8080")) == scoped)
    }

    /// Same, with a real kernel-reported address when the host has a link-local address.
    @Test func kernelReportedLinkLocalAddressRoundTrips() throws {
        guard let (address, index) = firstLinkLocal() else { return }
        var value = sockaddr_in6()
        value.sin6_family = sa_family_t(AF_INET6)
        value.sin6_addr = address
        value.sin6_scope_id = index
        let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        let bound = withUnsafePointer(to: &value) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        guard bound == 0 else { return }  // nodad/tentative address: nothing to check
        let local = try SocketAddress.local(of: fd)
        let reread = try SocketAddress(parsing: local.description)
        #expect(reread == local, "\(local) read back differently (scope lost)")
        // And the read-back address cannot be used where the kernel's could:
        let second = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(second) }
        let result = reread.with(port: 0).withSockaddrPointer { bind(second, $0, $1) }
        #expect(result == 0, "bind(\(reread.with(port: 0))) failed: errno \(errno)")
    }

    private func firstLinkLocal() -> (in6_addr, UInt32)? {
        let fd = open("/proc/net/if_inet6", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 65536)
        let count = read(fd, &bytes, bytes.count)
        guard count > 0 else { return nil }
        let text = String(decoding: bytes[..<count], as: UTF8.self)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[0].hasPrefix("fe80"), let index = UInt32(fields[1], radix: 16)
            else { continue }
            var address = in6_addr()
            let hex = Array(fields[0])
            withUnsafeMutableBytes(of: &address) { bytes in
                for i in 0..<16 { bytes[i] = UInt8(String(hex[2 * i..<2 * i + 2]), radix: 16)! }
            }
            return (address, index)
        }
        return nil
    }
}
