import CSelectors

/// A waker built on a non-blocking pipe, for systems without `eventfd`.
final class PipeWaker: Waker {
    let readFD: Int32
    private let writeFD: Int32

    init() throws(Errno) {
        var ends: [Int32] = [-1, -1]
        _ = try SystemCall.once { pipe(&ends) }
        readFD = ends[0]
        writeFD = ends[1]
        for fd in ends {
            _ = cselectors_fcntl_set(fd, F_SETFL, cselectors_fcntl_get(fd, F_GETFL) | O_NONBLOCK)
            _ = cselectors_fcntl_set(fd, F_SETFD, FD_CLOEXEC)
        }
    }

    func wake() {
        var byte: UInt8 = 1
        // EAGAIN means the pipe is full, so the loop is already going to wake: nothing lost.
        _ = CSelectors.write(writeFD, &byte, 1)
    }

    func drain() {
        var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &scratch, { CSelectors.read(readFD, $0.baseAddress, $0.count) }) > 0
        {}
    }

    func close() {
        SystemCall.close(readFD)
        SystemCall.close(writeFD)
    }
}
