import CSelectors
import Selectors

/// Writes all of `bytes` to the non-blocking `fd` with one `write`; throws on an error or a
/// short write, which in these tests means a full buffer nobody expected.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(Errno) {
    let written = bytes.withUnsafeBytes { CSelectors.write(fd, $0.baseAddress, $0.count) }
    guard written >= 0 else { throw Errno(rawValue: cselectors_errno()) }
    guard written == bytes.count else { throw Errno(rawValue: EAGAIN) }
}

/// Writes the UTF-8 of `text` to `fd` (see `writeAll(_:_:)`).
func writeAll(_ fd: Int32, _ text: String) throws(Errno) {
    try writeAll(fd, Array(text.utf8))
}

/// Reads what is available from the non-blocking `fd`, up to `limit` bytes, with one `read`.
///
/// Returns `[]` at end of file; throws `Errno.wouldBlock` when nothing is waiting.
func readAvailable(_ fd: Int32, limit: Int = 65_536) throws(Errno) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: limit)
    let count = buffer.withUnsafeMutableBytes { CSelectors.read(fd, $0.baseAddress, $0.count) }
    guard count >= 0 else { throw Errno(rawValue: cselectors_errno()) }
    return Array(buffer[..<count])
}

/// Writes to the non-blocking `fd` until the kernel refuses more (`EAGAIN`), so the fd is
/// no longer writable. Returns how many bytes went in.
@discardableResult
func fillUntilFull(_ fd: Int32) throws(Errno) -> Int {
    let chunk = [UInt8](repeating: 0x5A, count: 65_536)
    var total = 0
    while true {
        let written = chunk.withUnsafeBytes { CSelectors.write(fd, $0.baseAddress, $0.count) }
        if written < 0 {
            let error = Errno(rawValue: cselectors_errno())
            if error == .wouldBlock { return total }
            throw error
        }
        total += written
    }
}

/// Sends one byte with `MSG_NOSIGNAL`, so a closed peer yields `EPIPE` instead of killing
/// the test process with `SIGPIPE`. Returns the error, or `nil` if the byte was accepted.
func sendByteReportingError(_ fd: Int32) -> Errno? {
    var byte: UInt8 = 0x21
    let sent = send(fd, &byte, 1, Int32(MSG_NOSIGNAL))
    return sent < 0 ? Errno(rawValue: cselectors_errno()) : nil
}

/// Reads from the non-blocking `fd` until `read` fails with `EAGAIN` (or returns end of file),
/// as an edge-triggered handler must; returns everything read.
@discardableResult
func drain(_ fd: Int32) throws(Errno) -> [UInt8] {
    var bytes: [UInt8] = []
    while true {
        do {
            let chunk = try readAvailable(fd)
            if chunk.isEmpty { return bytes }
            bytes += chunk
        } catch  where error == .wouldBlock {
            return bytes
        }
    }
}
