internal import CSelectors

extension Socket {
    /// Opens a TCP or Unix-domain stream connection to `address`: `socket`, optionally
    /// `bind(sourceAddress)`, then `connect`. `connect(to:timeout:)` bounds the wait.
    ///
    /// Binding a source address picks the local end, for example `127.0.0.5:0` to spread a
    /// load generator's connections over several loopback addresses so it does not run out of
    /// ephemeral ports. On Linux, with port 0, the port is chosen at `connect` time
    /// (`IP_BIND_ADDRESS_NO_PORT`), so it can be shared across destinations.
    ///
    /// Blocking mode waits for the handshake (retrying `EINTR` by waiting for the connection
    /// to finish). Non-blocking mode returns at once: `pending` is true when the kernel
    /// answered `EINPROGRESS`; wait for `.write` readiness, then call `connectResult(_:)` (or
    /// simply write: a failed connection reports its error there). A non-blocking Unix-domain
    /// connect finishes at once, or fails with `EAGAIN` when the listener's backlog is full.
    /// - Returns: the socket (close-on-exec, never raising `SIGPIPE`) and whether the
    ///   connection is still being established.
    /// - Throws: `ECONNREFUSED`, `ETIMEDOUT`, `EADDRNOTAVAIL`, `EMFILE`, ... The fd is closed
    ///   on failure.
    public static func connect(
        to address: SocketAddress, nonBlocking: Bool = false, sourceAddress: SocketAddress? = nil
    ) throws(Errno) -> (fd: Int32, pending: Bool) {
        let fd = try makeStream(address.family, nonBlocking: nonBlocking)
        return try closing(fd) { () throws(Errno) in
            if let sourceAddress {
                SocketPlatform.deferPortChoice(fd, for: sourceAddress)
                _ = try SystemCall.once { sourceAddress.withSockaddrPointer { bind(fd, $0, $1) } }
            }
            let result = address.withSockaddrPointer { CSelectors.connect(fd, $0, $1) }
            if result == 0 { return (fd, false) }
            let error = Errno.current
            switch error {
            case .nowInProgress where nonBlocking:
                return (fd, true)
            case .interrupted:
                // The handshake goes on in the kernel; calling connect again would fail with
                // EALREADY, so wait for it to finish instead.
                if nonBlocking { return (fd, true) }
                try waitUntilWritable(fd)
                if let failure = try connectResult(fd) { throw failure }
                return (fd, false)
            default:
                throw error
            }
        }
    }

    /// The outcome of a non-blocking connect once the socket is writable:
    /// `getsockopt(SO_ERROR)`, which also clears the pending error.
    /// - Returns: `nil` if the connection is established, else the reason it failed (for
    ///   example `ECONNREFUSED`).
    /// - Throws: if `getsockopt` itself fails (`EBADF`, `ENOTSOCK`).
    public static func connectResult(_ fd: Int32) throws(Errno) -> Errno? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try SystemCall.once { getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) }
        return value == 0 ? nil : Errno(rawValue: value)
    }

    /// Blocks in `poll` until `fd` is writable, retrying `EINTR`.
    private static func waitUntilWritable(_ fd: Int32) throws(Errno) {
        var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = try SystemCall.retrying { poll(&entry, 1, -1) }
    }
}
