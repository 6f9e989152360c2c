internal import CSelectors

/// Helpers for any file descriptor, socket or not: pipes, FIFOs, terminals and ptys, regular
/// files, character devices. Each wraps one system call with the conventions of `Socket`:
/// `EINTR` is retried where repeating the call is safe, "would block" is a `nil` result rather
/// than an error, and everything else is thrown as a typed `Errno`.
///
/// `Socket.read` works on any descriptor too (it is `read(2)`), but `Socket.write` is `send(2)`,
/// which only sockets accept: write to a pipe, pty or file with `Descriptor.write`.
public enum Descriptor {
    /// Reads what is available into `buffer` (`read`), retrying `EINTR`.
    ///
    /// A regular file never reports "would block", and the epoll backend refuses to watch one
    /// (`EPERM`); read it directly. A pty's controlling side reads `EIO`, not 0, once the
    /// other side is closed on Linux: treat it as end of stream.
    /// - Returns: the number of bytes read; `0` at end of stream (every write end of a pipe
    ///   closed, end of file); `nil` when a non-blocking descriptor has nothing to read
    ///   (`EAGAIN`).
    /// - Throws: `EBADF`, `EIO`, `EISDIR`, `ECONNRESET` on a socket, ...
    @inline(__always)
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        while true {
            let count = CSelectors.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let error = Errno.current
            if error == .wouldBlock { return nil }
            if error != .interrupted { throw error }
        }
    }

    /// Writes as much of `buffer` as the descriptor takes (`write`), retrying `EINTR`.
    ///
    /// A write to a pipe or FIFO whose every read end is closed raises `SIGPIPE`, which kills
    /// the process unless it ignores the signal: call `ignoreBrokenPipeSignal()` once at
    /// start-up (the write then fails with `EPIPE`), or watch the pipe for hang-up and stop
    /// writing. Sockets need neither: write them with `Socket.write`, which never raises it.
    /// - Returns: the number of bytes written, possibly fewer than `buffer.count`; `nil` when a
    ///   non-blocking descriptor cannot take any now (`EAGAIN`: a full pipe, say).
    /// - Throws: `EPIPE` (with `SIGPIPE` ignored), `EBADF`, `ENOSPC`, `EIO`, ...
    @inline(__always)
    public static func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) throws(Errno) -> Int? {
        while true {
            let count = CSelectors.write(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let error = Errno.current
            if error == .wouldBlock { return nil }
            if error != .interrupted { throw error }
        }
    }

    /// Closes `fd` (`close`), ignoring errors: on Linux the descriptor is gone even when
    /// `close` reports `EINTR` or `EIO`, and retrying could close a number another thread was
    /// just given.
    public static func close(_ fd: Int32) {
        SystemCall.close(fd)
    }

    /// Turns `O_NONBLOCK` on or off (`fcntl(F_GETFL)`, then `fcntl(F_SETFL)` if it changes).
    ///
    /// The flag belongs to the open file description, so every process sharing it (a shell
    /// sharing its terminal, say) sees the change.
    public static func setNonBlocking(_ fd: Int32, _ enabled: Bool = true) throws(Errno) {
        let flags = try SystemCall.once { cselectors_fcntl_get(fd, F_GETFL) }
        let wanted = enabled ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        if wanted != flags { _ = try SystemCall.once { cselectors_fcntl_set(fd, F_SETFL, wanted) } }
    }
}
