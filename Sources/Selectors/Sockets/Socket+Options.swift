internal import CSelectors

extension Socket {
    /// Turns `O_NONBLOCK` on or off (`fcntl(F_GETFL)`, then `fcntl(F_SETFL)` if it changes).
    /// The same as `Descriptor.setNonBlocking(_:_:)`, which works on any descriptor.
    public static func setNonBlocking(_ fd: Int32, _ enabled: Bool = true) throws(Errno) {
        try Descriptor.setNonBlocking(fd, enabled)
    }

    /// Sets the kernel's send buffer size (`setsockopt(SO_SNDBUF)`; Linux doubles the value
    /// for its own bookkeeping). Without it Linux grows a TCP socket's buffer up to
    /// `net.ipv4.tcp_wmem`'s maximum (megabytes) for a peer that does not read, before any
    /// output is left for the application to queue: set it where the application's own
    /// high-water mark should take effect sooner.
    public static func setSendBufferSize(_ fd: Int32, _ bytes: Int32) throws(Errno) {
        try setInteger(fd, SOL_SOCKET, SO_SNDBUF, bytes)
    }

    /// Sets the kernel's receive buffer size (`setsockopt(SO_RCVBUF)`).
    public static func setReceiveBufferSize(_ fd: Int32, _ bytes: Int32) throws(Errno) {
        try setInteger(fd, SOL_SOCKET, SO_RCVBUF, bytes)
    }

    /// Bounds each blocking read (`setsockopt(SO_RCVTIMEO)`): a read that waits `timeout`
    /// with nothing to read gives up, and `read(_:into:)` returns nil, as for a non-blocking
    /// socket with nothing to read. For a blocking client that must not wait for ever on a
    /// server that never answers. `nil` waits without a bound again (the default). Rounded up
    /// to the microsecond, and at most about 24.8 days (`Int32.max` milliseconds, as for
    /// every wait of the library).
    /// - Throws: `EINVAL` for a timeout of zero or less (which `SO_RCVTIMEO` would read as
    ///   "no bound"), `EBADF`, `ENOTSOCK`, ...
    public static func setReceiveTimeout(_ fd: Int32, _ timeout: Duration?) throws(Errno) {
        var value = timeval()
        if let timeout {
            guard timeout > .zero, let limit = WaitTimeout(timeout) else { throw .invalidArgument }
            value = limit.timeval
        }
        _ = try SystemCall.once {
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    /// Turns Nagle's algorithm off or on (`setsockopt(IPPROTO_TCP, TCP_NODELAY)`): with it
    /// off, small writes leave at once instead of waiting for the previous segment's ACK.
    public static func setNoDelay(_ fd: Int32, _ enabled: Bool = true) throws(Errno) {
        try setFlag(fd, Int32(IPPROTO_TCP), TCP_NODELAY, enabled)
    }

    /// Sets `SO_LINGER` to "on, 0 seconds" (`setsockopt(SOL_SOCKET, SO_LINGER)`), so the next
    /// `close` discards unsent data and resets the connection. `reset(_:)` does both steps.
    @inline(never)
    public static func setLinger0(_ fd: Int32) throws(Errno) {
        // Never inlined: the pointer to a local it passes gives its caller a stack protector,
        // which `Connections.end`, inlined into the common close, then paid for on every close
        // (callgrind: 5 instructions per connection cycle).
        var value = linger(l_onoff: 1, l_linger: 0)
        _ = try SystemCall.once {
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
        }
    }

    /// Half-closes the connection (`shutdown(SHUT_WR)`): the peer reads end of stream once
    /// it has read everything sent so far, while this side can still read its answer.
    /// - Throws: `ENOTCONN` if the socket is not connected, `EBADF`, ...
    public static func shutdownWrite(_ fd: Int32) throws(Errno) {
        _ = try SystemCall.once { shutdown(fd, SocketPlatform.shutWrite) }
    }

    /// Turns TCP keepalive on (`setsockopt(SOL_SOCKET, SO_KEEPALIVE)`): after `idleSeconds`
    /// of silence the system probes the peer, again every `idleSeconds`
    /// (`TCP_KEEPIDLE`, `TCP_KEEPALIVE` on Apple systems, and `TCP_KEEPINTVL`), and resets the
    /// connection after its usual number of unanswered probes, so a peer that vanished
    /// without a word does not hold the connection for ever.
    /// - Throws: `EINVAL` for an interval the system refuses (Linux: above 32,767), `EBADF`, ...
    public static func setKeepAlive(_ fd: Int32, idleSeconds: Int32) throws(Errno) {
        try setFlag(fd, SOL_SOCKET, SO_KEEPALIVE, true)
        try setInteger(fd, Int32(IPPROTO_TCP), SocketPlatform.keepAliveIdle, idleSeconds)
        try setInteger(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, idleSeconds)
    }

    /// Sets an integer socket option with `setsockopt`.
    static func setInteger(_ fd: Int32, _ level: Int32, _ option: Int32, _ value: Int32) throws(Errno) {
        var value = value
        _ = try SystemCall.once { setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// Sets a boolean socket option with `setsockopt`.
    static func setFlag(_ fd: Int32, _ level: Int32, _ option: Int32, _ enabled: Bool) throws(Errno) {
        var value: Int32 = enabled ? 1 : 0
        _ = try SystemCall.once { setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) }
    }
}
