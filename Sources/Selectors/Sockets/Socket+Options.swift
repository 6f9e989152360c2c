import CSelectors

extension Socket {
    /// Turns `O_NONBLOCK` on or off (`fcntl(F_GETFL)`, then `fcntl(F_SETFL)` if it changes).
    /// The same as `Descriptor.setNonBlocking(_:_:)`, which works on any descriptor.
    public static func setNonBlocking(_ fd: Int32, _ enabled: Bool = true) throws(Errno) {
        try Descriptor.setNonBlocking(fd, enabled)
    }

    /// Turns Nagle's algorithm off or on (`setsockopt(IPPROTO_TCP, TCP_NODELAY)`): with it
    /// off, small writes leave at once instead of waiting for the previous segment's ACK.
    public static func setNoDelay(_ fd: Int32, _ enabled: Bool = true) throws(Errno) {
        try setFlag(fd, Int32(IPPROTO_TCP), TCP_NODELAY, enabled)
    }

    /// Sets `SO_LINGER` to "on, 0 seconds" (`setsockopt(SOL_SOCKET, SO_LINGER)`), so the next
    /// `close` discards unsent data and resets the connection. `reset(_:)` does both steps.
    public static func setLinger0(_ fd: Int32) throws(Errno) {
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

    /// Sets a boolean socket option with `setsockopt`.
    static func setFlag(_ fd: Int32, _ level: Int32, _ option: Int32, _ enabled: Bool) throws(Errno) {
        var value: Int32 = enabled ? 1 : 0
        _ = try SystemCall.once { setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) }
    }
}
