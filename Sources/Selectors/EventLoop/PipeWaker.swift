internal import CSelectors

/// A waker built on a non-blocking pipe, for systems without `eventfd`.
final class PipeWaker: Waker {
    let readFD: Int32
    private let writeFD: Int32

    init() throws(Errno) {
        (readFD, writeFD) = try SystemCall.nonBlockingPipe()
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
