internal import CSelectors

extension Socket {
    /// Bytes the kernel has received on `fd` that nobody has read yet (`ioctl(FIONREAD)`).
    /// - Throws: `EBADF`, `ENOTTY` (not a socket or pipe), ...
    public static func unreadByteCount(_ fd: Int32) throws(Errno) -> Int {
        Int(try SystemCall.once { cselectors_unread_bytes(fd) })
    }

    /// Bytes written to the TCP socket `fd` that the peer has not acknowledged yet, whether
    /// sent or still queued (`ioctl(SIOCOUTQ)` on Linux, `getsockopt(SO_NWRITE)` on Apple
    /// systems, `ioctl(FIONWRITE)` on FreeBSD). Zero means everything written has reached the
    /// peer's kernel, so a reset sent now destroys none of it.
    /// - Throws: `EBADF`, `ENOTSUP` where the system cannot tell, ...
    public static func unacknowledgedByteCount(_ fd: Int32) throws(Errno) -> Int {
        Int(try SystemCall.once { cselectors_unacknowledged_bytes(fd) })
    }
}
