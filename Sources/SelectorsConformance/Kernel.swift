internal import CSelectors
import Selectors

/// The few system calls the harness makes on its own descriptors, each returning the raw
/// result or a typed error.
enum Kernel {
    static var errno: Errno { Errno(rawValue: cselectors_errno()) }

    /// A connected, non-blocking Unix stream socket pair, at whatever numbers the kernel picks.
    static func socketPair() -> (Int32, Int32)? {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        return socketpair(AF_UNIX, type, 0, &fds) == 0 ? (fds[0], fds[1]) : nil
    }

    /// A non-blocking pipe: `(read end, write end)`.
    static func pipe() -> (Int32, Int32)? {
        var fds: [Int32] = [-1, -1]
        guard CSelectors.pipe(&fds) == 0 else { return nil }
        for fd in fds {
            _ = cselectors_fcntl_set(fd, F_SETFL, cselectors_fcntl_get(fd, F_GETFL) | O_NONBLOCK)
        }
        return (fds[0], fds[1])
    }

    /// `fcntl(F_DUPFD_CLOEXEC)`: a new number at or above `minimum` for the file of `fd`.
    static func duplicate(_ fd: Int32, atLeast minimum: Int32) -> Int32 {
        cselectors_fcntl_set(fd, F_DUPFD_CLOEXEC, minimum)
    }

    static func duplicate(_ fd: Int32, onto target: Int32) -> Int32 { dup2(fd, target) }

    static func close(_ fd: Int32) { _ = CSelectors.close(fd) }

    static func isOpen(_ fd: Int32) -> Bool { cselectors_fcntl_get(fd, F_GETFD) >= 0 }

    /// `write`: the byte count, or the error.
    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        let written = CSelectors.write(fd, bytes.baseAddress, bytes.count)
        return written >= 0 ? .success(written) : .failure(errno)
    }

    /// `read`: the byte count (0 at end of file), or the error.
    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        let count = CSelectors.read(fd, buffer.baseAddress, buffer.count)
        return count >= 0 ? .success(count) : .failure(errno)
    }

    /// Nanoseconds on `CLOCK_MONOTONIC`, the clock the selector's timeouts use.
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    static func ignoreBrokenPipeSignal() { cselectors_ignore_sigpipe() }
}
