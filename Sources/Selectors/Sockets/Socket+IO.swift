internal import CSelectors

extension Socket {
    /// Reads what is available into `buffer` (`read`), retrying `EINTR`.
    ///
    /// This is `Descriptor.read(_:into:)`, so it also reads pipes, ptys and files; it keeps
    /// its name here to pair with `Socket.write`.
    /// - Returns: the number of bytes read; `0` at end of stream (the peer shut down its
    ///   side); `nil` when a non-blocking socket has nothing to read (`EAGAIN`).
    /// - Throws: `ECONNRESET` when the peer reset the connection, `EBADF`, ...
    @inline(__always)
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        try Descriptor.read(fd, into: buffer)
    }

    /// Writes as much of `buffer` as the socket takes (`send`, with `MSG_NOSIGNAL` on Linux),
    /// retrying `EINTR`.
    ///
    /// Writing to a connection the peer has closed or reset fails with `EPIPE` or
    /// `ECONNRESET`; it never raises `SIGPIPE` (Linux passes `MSG_NOSIGNAL`, Apple systems set
    /// `SO_NOSIGPIPE` when the socket is made), so a library need not touch the process's
    /// signal handling.
    ///
    /// Sockets only: `send` fails with `ENOTSOCK` on a pipe, pty or file. Write those with
    /// `Descriptor.write(_:from:)` (`write(2)`), which has no per-call way to stop `SIGPIPE`.
    /// - Returns: the number of bytes written, possibly fewer than `buffer.count`; `nil` when a
    ///   non-blocking socket's send buffer is full (`EAGAIN`).
    /// - Throws: `EPIPE`, `ECONNRESET`, a pending connect error such as `ECONNREFUSED`,
    ///   `ENOTSOCK` for a descriptor that is not a socket, ...
    @inline(__always)
    public static func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) throws(Errno) -> Int? {
        while true {
            let count = send(fd, buffer.baseAddress, buffer.count, SocketPlatform.sendFlags)
            if count >= 0 { return count }
            let error = Errno.current
            if error == .wouldBlock { return nil }
            if error != .interrupted { throw error }
        }
    }
}
