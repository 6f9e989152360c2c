internal import CSelectors

/// An IPv4 or IPv6 address with a port, or a Unix-domain socket's path, stored as a C
/// `sockaddr_storage` so it can be handed to `bind`, `connect` and friends without conversion.
///
/// One type for every family, so `Socket.makeListener`, `Socket.connect` and the datagram
/// helpers take any of them, and `local(of:)` / `peer(of:)` answer for any socket they made.
///
/// ```swift
/// let address = try SocketAddress(host: "127.0.0.1", port: 7000)
/// print(address)            // 127.0.0.1:7000
/// print(try SocketAddress(host: "::1", port: 7000))   // [::1]:7000
/// ```
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address family.
    public enum Family: Sendable, Hashable {
        /// IPv4 (`AF_INET`, `sockaddr_in`).
        case ipv4
        /// IPv6 (`AF_INET6`, `sockaddr_in6`).
        case ipv6
        /// Unix-domain (`AF_UNIX`, `sockaddr_un`): a filesystem path, or no name at all (the
        /// client end of a connection, a socket pair); on Linux also an abstract name.
        case unix

        /// The `AF_*` constant `socket` takes.
        var domain: Int32 {
            switch self {
            case .ipv4: AF_INET
            case .ipv6: AF_INET6
            case .unix: AF_UNIX
            }
        }
    }

    /// The C representation, zero beyond `length` bytes.
    private(set) var storage: sockaddr_storage
    /// How many bytes of `storage` are meaningful: the size of `sockaddr_in` or `sockaddr_in6`;
    /// for Unix addresses the path's offset plus its bytes and terminating NUL.
    private(set) var length: socklen_t

    /// Wraps what the kernel filled in (`getsockname`, `accept`, `recvmsg`); `nil` for families
    /// other than IPv4, IPv6 and Unix. A Unix address's length is normalised (systems differ
    /// in what they report), so equal paths compare equal.
    init?(storage: sockaddr_storage, length: socklen_t) {
        switch Int32(storage.ss_family) {
        case AF_INET, AF_INET6: self.init(exactly: storage, length: length)
        case AF_UNIX:
            self.init(exactly: storage, length: SocketAddress.unixLength(of: storage, reported: length))
        default: return nil
        }
    }

    /// `storage` as is, `length` bytes of it, with the length stamped where the platform's
    /// `sockaddr`s carry one.
    init(exactly storage: sockaddr_storage, length: socklen_t) {
        var storage = storage
        SocketPlatform.stampLength(&storage, length)
        self.storage = storage
        self.length = length
    }

    /// The IPv4 address `address` (in network byte order, as in `in_addr`) and `port`.
    init(ipv4 address: in_addr, port: UInt16) {
        var value = sockaddr_in()
        value.sin_family = sa_family_t(AF_INET)
        value.sin_port = port.bigEndian
        value.sin_addr = address
        self.init(value, family: .ipv4)
    }

    /// The IPv6 address `address` and `port`, with no flow label or scope.
    init(ipv6 address: in6_addr, port: UInt16, scope: UInt32 = 0) {
        var value = sockaddr_in6()
        value.sin6_family = sa_family_t(AF_INET6)
        value.sin6_port = port.bigEndian
        value.sin6_addr = address
        value.sin6_scope_id = scope
        self.init(value, family: .ipv6)
    }

    private init<Value>(_ value: Value, family: Family) {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { target in
            withUnsafeBytes(of: value) { target.copyMemory(from: $0) }
        }
        let length = socklen_t(MemoryLayout<Value>.size)
        SocketPlatform.stampLength(&storage, length)
        self.storage = storage
        self.length = length
    }

    /// `127.0.0.1` with `port`.
    public static func ipv4Loopback(port: UInt16) -> SocketAddress {
        SocketAddress(ipv4: in_addr(s_addr: UInt32(0x7F00_0001).bigEndian), port: port)
    }

    /// `::1` with `port`.
    public static func ipv6Loopback(port: UInt16) -> SocketAddress {
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0[15] = 1 }
        return SocketAddress(ipv6: address, port: port)
    }

    /// IPv4, IPv6 or Unix.
    public var family: Family {
        switch Int32(storage.ss_family) {
        case AF_INET: .ipv4
        case AF_UNIX: .unix
        default: .ipv6
        }
    }

    /// The port, in host byte order (`ntohs(sin_port)`); 0 for a Unix address.
    public var port: UInt16 {
        switch family {
        case .ipv4: UInt16(bigEndian: withIPv4 { $0.sin_port })
        case .ipv6: UInt16(bigEndian: withIPv6 { $0.sin6_port })
        case .unix: 0
        }
    }

    /// The same address with another port; a Unix address, which has none, is returned as is.
    public func with(port: UInt16) -> SocketAddress {
        if family == .unix { return self }
        var copy = self
        withUnsafeMutableBytes(of: &copy.storage) { bytes in
            switch family {
            case .ipv4:
                bytes.baseAddress!.assumingMemoryBound(to: sockaddr_in.self).pointee.sin_port = port.bigEndian
            case .ipv6:
                bytes.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_port =
                    port.bigEndian
            case .unix: break
            }
        }
        return copy
    }

    /// Whether this is an IPv4 address in `127.0.0.0/8`.
    public var isIPv4Loopback: Bool {
        family == .ipv4 && UInt32(bigEndian: withIPv4 { $0.sin_addr.s_addr }) >> 24 == 127
    }

    /// Calls `body` with a `sockaddr` pointer and its length, for C calls such as `bind`,
    /// `connect` or `sendto`. The pointer is valid only during the call.
    func withSockaddrPointer<Result, Failure: Error>(
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        var storage = self.storage
        // `sockaddr_storage` is laid out to be reinterpreted as any `sockaddr_*`: that is its
        // whole purpose, so the rebinding is sound for the duration of the call.
        return try withUnsafeMutablePointer(to: &storage) { (pointer) throws(Failure) -> Result in
            let raw = UnsafeRawPointer(pointer)
            return try body(raw.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    /// The address `fd` is bound to (`getsockname`), for example the port the kernel picked
    /// after binding port 0.
    /// - Throws: `EBADF`, `ENOTSOCK`, or `EAFNOSUPPORT` for a socket that is not IPv4, IPv6 or
    ///   Unix.
    public static func local(of fd: Int32) throws(Errno) -> SocketAddress {
        try query(fd) { getsockname($0, $1, $2) }
    }

    /// The address of the peer `fd` is connected to (`getpeername`).
    /// - Throws: `ENOTCONN` when the socket is not connected, `EBADF`, `ENOTSOCK`, or
    ///   `EAFNOSUPPORT` for a socket that is not IPv4, IPv6 or Unix.
    public static func peer(of fd: Int32) throws(Errno) -> SocketAddress {
        try query(fd) { getpeername($0, $1, $2) }
    }

    private static func query(
        _ fd: Int32, _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws(Errno) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            UnsafeMutableRawPointer(pointer).withMemoryRebound(to: sockaddr.self, capacity: 1) {
                call(fd, $0, &length)
            }
        }
        if result < 0 { throw Errno.current }
        guard let address = SocketAddress(storage: storage, length: length) else {
            throw Errno(rawValue: EAFNOSUPPORT)
        }
        return address
    }

    func withIPv4<Result>(_ body: (sockaddr_in) -> Result) -> Result {
        withUnsafeBytes(of: storage) { body($0.load(as: sockaddr_in.self)) }
    }

    func withIPv6<Result>(_ body: (sockaddr_in6) -> Result) -> Result {
        withUnsafeBytes(of: storage) { body($0.load(as: sockaddr_in6.self)) }
    }

    /// Equal when the meaningful bytes are equal (family, port, address, and for IPv6 flow
    /// label and scope; for Unix the path or name).
    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        guard lhs.length == rhs.length else { return false }
        return withUnsafeBytes(of: lhs.storage) { left in
            withUnsafeBytes(of: rhs.storage) { right in
                left.prefix(Int(lhs.length)).elementsEqual(right.prefix(Int(rhs.length)))
            }
        }
    }

    /// Hashes the meaningful bytes.
    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: storage) {
            hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: $0.prefix(Int(length))))
        }
    }
}
