internal import CSelectors

extension Socket {
    /// Creates a listening TCP or Unix-domain stream socket: `socket`,
    /// `setsockopt(SO_REUSEADDR)` (TCP), optionally `setsockopt(SO_REUSEPORT)`, `bind`, `listen`.
    ///
    /// `SO_REUSEADDR` is always set on TCP so a restarted server can bind while old
    /// connections sit in `TIME_WAIT`. `SO_REUSEPORT` lets several listeners share the port
    /// (the kernel spreads connections between them; TCP only, recent Linux refuses it on Unix
    /// sockets). With port 0 the kernel picks a free port; the returned address carries the
    /// real one (`getsockname`).
    ///
    /// A Unix-domain listener creates its socket file at `bind`, and the file outlives the
    /// socket: a server that crashed leaves it behind, and the next `bind` fails with
    /// `EADDRINUSE`. Whether to delete it is the caller's decision: pass
    /// `removingStaleSocketFile: true` to remove a socket file that nobody accepts on any more.
    /// - Parameters:
    ///   - address: where to listen, for example `.ipv4Loopback(port: 0)` or
    ///     `try SocketAddress(unixPath: "/tmp/app.sock")`.
    ///   - backlog: the accept queue length (the kernel caps it at `somaxconn`).
    ///   - reusePort: also set `SO_REUSEPORT`.
    ///   - nonBlocking: make the listener non-blocking, as an event loop needs.
    ///   - removingStaleSocketFile: for a Unix path, first delete what is there if it is a
    ///     socket file and connecting to it is refused (no listener behind it). A file that is
    ///     not a socket, or a socket with a live listener, is left alone, and `bind` then fails
    ///     with `EADDRINUSE`. The live check makes one connection attempt, which a listener
    ///     there would see as a client that connects and closes at once. Ignored for IP.
    /// - Returns: the listening fd and the address it is bound to.
    /// - Throws: `EADDRINUSE`, `EACCES`, `EMFILE`, `ENOENT` (a missing directory), ... The fd is
    ///   closed on failure.
    public static func makeListener(
        address: SocketAddress, backlog: Int32 = 1024, reusePort: Bool = false, nonBlocking: Bool = true,
        removingStaleSocketFile: Bool = false
    ) throws(Errno) -> (fd: Int32, address: SocketAddress) {
        if removingStaleSocketFile, let path = address.unixPath { try removeStaleSocketFile(at: path) }
        let fd = try makeStream(address.family, nonBlocking: nonBlocking)
        return try closing(fd) { () throws(Errno) in
            if address.family != .unix { try setFlag(fd, SOL_SOCKET, SO_REUSEADDR, true) }
            if reusePort { try setFlag(fd, SOL_SOCKET, SO_REUSEPORT, true) }
            _ = try SystemCall.once { address.withSockaddrPointer { bind(fd, $0, $1) } }
            _ = try SystemCall.once { listen(fd, backlog) }
            return (fd, try SocketAddress.local(of: fd))
        }
    }

    /// Accepts one queued connection (TCP or Unix-domain): `accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)`
    /// on Linux, `accept` plus `fcntl` elsewhere. The new socket is non-blocking and
    /// close-on-exec.
    ///
    /// `EINTR` is retried, and so is `ECONNABORTED` (a client that reset while queued is not
    /// the listener's problem; the next queued connection is taken instead).
    /// - Returns: the connected fd, or `nil` when no connection is waiting (`EAGAIN`) on a
    ///   non-blocking listener.
    /// - Throws: `EMFILE`/`ENFILE` when out of descriptors (the connection stays queued, so a
    ///   caller must stop accepting for a while rather than retry at once), `EBADF`, ...
    public static func accept(_ fd: Int32) throws(Errno) -> Int32? {
        while true {
            let accepted = SocketPlatform.acceptOnce(fd)
            if accepted >= 0 { return accepted }
            let error = Errno.current
            switch error {
            case .wouldBlock: return nil
            case .interrupted, .connectionAbort: continue
            default: throw error
            }
        }
    }
}

extension Errno {
    /// `ECONNABORTED`: a queued connection was aborted before `accept` took it.
    public static let connectionAbort = Errno(rawValue: ECONNABORTED)
    /// `ENOTCONN`: the socket is not connected.
    public static let notConnected = Errno(rawValue: ENOTCONN)
    /// `EADDRNOTAVAIL`: the address is not local, or no ephemeral port is left.
    public static let addressNotAvailable = Errno(rawValue: EADDRNOTAVAIL)
}
