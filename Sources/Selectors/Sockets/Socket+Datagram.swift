internal import CSelectors

extension Socket {
    /// Creates a datagram socket bound to `address`: `socket(AF_INET or AF_INET6, SOCK_DGRAM,
    /// 0)` for UDP (or `AF_UNIX` for a Unix-domain datagram socket at a path), then `bind`.
    ///
    /// Close-on-exec and, by default, non-blocking. With port 0 the kernel picks a free port
    /// and the returned address carries it (`getsockname`); a client that only sends and reads
    /// replies binds port 0 too. An IPv6 socket may also exchange datagrams with IPv4 peers
    /// (as `::ffff:a.b.c.d`) unless the system sets `IPV6_V6ONLY` by default.
    /// - Returns: the socket and the address it is bound to.
    /// - Throws: `EADDRINUSE`, `EADDRNOTAVAIL`, `EACCES`, `EMFILE`, ... The fd is closed on failure.
    public static func makeDatagramSocket(
        address: SocketAddress, nonBlocking: Bool = true
    ) throws(Errno) -> (fd: Int32, address: SocketAddress) {
        let fd = try SocketPlatform.makeSocket(
            family: address.family.domain, type: SocketPlatform.datagramType, nonBlocking: nonBlocking)
        return try closing(fd) { () throws(Errno) in
            _ = try SystemCall.once { address.withSockaddrPointer { bind(fd, $0, $1) } }
            return (fd, try SocketAddress.local(of: fd))
        }
    }

    /// Sends `buffer` as one datagram to `address` (`sendto`, never raising `SIGPIPE`),
    /// retrying `EINTR`.
    ///
    /// A datagram goes whole or not at all: the result is `buffer.count` on success. Sending
    /// to a port nobody listens on succeeds too: an unconnected socket is not told of the
    /// ICMP "port unreachable" that comes back. Delivery is not guaranteed, even on loopback
    /// (a full receive buffer drops datagrams).
    /// - Returns: the number of bytes sent; `nil` when a non-blocking socket cannot send now
    ///   (`EAGAIN`).
    /// - Throws: `EMSGSIZE` when the datagram is too large (over 65,507 bytes for UDP over
    ///   IPv4), `EAFNOSUPPORT` or `EINVAL` for an address of another family than the socket,
    ///   `EBADF`, ...
    public static func sendDatagram(
        _ fd: Int32, from buffer: UnsafeRawBufferPointer, to address: SocketAddress
    ) throws(Errno) -> Int? {
        while true {
            let count = address.withSockaddrPointer {
                sendto(fd, buffer.baseAddress, buffer.count, SocketPlatform.sendFlags, $0, $1)
            }
            if count >= 0 { return count }
            let error = Errno.current
            if error == .wouldBlock { return nil }
            if error != .interrupted { throw error }
        }
    }

    /// Receives one datagram into `buffer` and says who sent it (`recvmsg`), retrying `EINTR`.
    ///
    /// Each call takes exactly one datagram off the queue. One longer than `buffer` is cut to
    /// fit and the rest of it is gone: `truncated` then says so (`MSG_TRUNC`), so a caller can
    /// count it or use a larger buffer (65,535 bytes holds any UDP datagram). A count of 0 is
    /// an empty datagram, not an end of stream: datagram sockets have none.
    /// - Returns: the number of bytes received, the sender's address (`nil` only when the
    ///   kernel names a sender of a family `SocketAddress` does not hold), and whether the
    ///   datagram was truncated; `nil` when a non-blocking socket has nothing queued
    ///   (`EAGAIN`).
    /// - Throws: `EBADF`, `ENOTSOCK`, ...
    public static func receiveDatagram(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer
    ) throws(Errno) -> (count: Int, sender: SocketAddress?, truncated: Bool)? {
        var sender = sockaddr_storage()
        var vector = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
        var message = msghdr()
        let received = try withUnsafeMutablePointer(to: &sender) {
            (name) throws(Errno) -> (count: Int, flags: Int32, nameLength: socklen_t)? in
            try withUnsafeMutablePointer(to: &vector) {
                (vectorPointer) throws(Errno) -> (count: Int, flags: Int32, nameLength: socklen_t)? in
                while true {
                    message.msg_name = UnsafeMutableRawPointer(name)
                    message.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    let count = recvmsg(fd, &message, 0)
                    if count >= 0 { return (count, message.msg_flags, message.msg_namelen) }
                    let error = Errno.current
                    if error == .wouldBlock { return nil }
                    if error != .interrupted { throw error }
                }
            }
        }
        guard let (count, flags, nameLength) = received else { return nil }
        // A sender without a name (one end of a Unix datagram socket pair) has length 0.
        if nameLength == 0 { sender.ss_family = sa_family_t(AF_UNIX) }
        let address = SocketAddress(storage: sender, length: nameLength)
        return (count, address, flags & Int32(MSG_TRUNC) != 0)
    }
}
