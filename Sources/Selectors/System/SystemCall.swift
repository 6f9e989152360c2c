internal import CSelectors

/// The one place that turns the C convention (return -1 and set `errno`) into typed throws.
package enum SystemCall {
    /// Runs `call` until it stops failing with `EINTR`.
    ///
    /// Use this only for calls that are safe to repeat after an interruption; never for
    /// `close`, whose descriptor is already released when it reports `EINTR` on Linux.
    @inline(__always)
    static func retrying<Result: BinaryInteger>(_ call: () -> Result) throws(Errno) -> Result {
        while true {
            let result = call()
            if result >= 0 { return result }
            let error = Errno.current
            if error != .interrupted { throw error }
        }
    }

    /// Runs `call` once and throws its `errno` if it failed.
    @inline(__always)
    static func once<Result: BinaryInteger>(_ call: () -> Result) throws(Errno) -> Result {
        let result = call()
        if result < 0 { throw Errno.current }
        return result
    }

    /// Closes `fd`, ignoring the result.
    ///
    /// An error from `close` cannot be acted on: on Linux the descriptor is released even when
    /// `close` reports `EINTR` or `EIO`, so retrying could close a number another thread just
    /// received.
    static func close(_ fd: Int32) {
        _ = CSelectors.close(fd)
    }

    /// A pipe whose ends are both non-blocking and close-on-exec: `Descriptor.makePipe()`.
    /// Used for wake-ups and signal delivery, where a full pipe already means "wake up".
    static func nonBlockingPipe() throws(Errno) -> (read: Int32, write: Int32) {
        try Descriptor.makePipe(nonBlocking: true)
    }

    /// The whole of a file read to its end (`/proc/self/smaps`, `/proc/cpuinfo`); nil if it
    /// cannot be opened or a read fails.
    package static func readFile(_ path: String) -> [UInt8]? {
        let fd = cselectors_open_read_only(path)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count: Int
            do {
                count = try retrying {
                    chunk.withUnsafeMutableBytes { CSelectors.read(fd, $0.baseAddress, $0.count) }
                }
            } catch {
                return nil
            }
            guard count > 0 else { return contents }
            contents.append(contentsOf: chunk[0..<count])
        }
    }

    /// Whether `fd` names an open descriptor (`fcntl(F_GETFD)` succeeds).
    static func isOpen(_ fd: Int32) -> Bool {
        cselectors_fcntl_get(fd, F_GETFD) >= 0
    }
}
