import CSelectors
import Selectors

#if canImport(Glibc)
    import Glibc
#endif

/// A private directory under /tmp for Unix-domain socket files, removed with everything in it
/// when `remove()` is called (tests call it in a `defer`). Short enough that paths inside fit
/// in `sun_path`.
struct TemporaryDirectory {
    let path: String

    init() throws(Errno) {
        var template = Array("/tmp/selectors-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw Errno(rawValue: cselectors_errno()) }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `path/name`.
    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// A Unix-domain address for `path/name`.
    func socketAddress(_ name: String) throws(Errno) -> SocketAddress {
        try SocketAddress(unixPath: file(name))
    }

    /// Unlinks every entry, then the directory. The tests make only flat files here.
    func remove() {
        for name in directoryNames(path) ?? [] { _ = unlink(file(name)) }
        _ = rmdir(path)
    }
}

/// Whether something exists at `path` (`access(F_OK)`).
func fileExists(_ path: String) -> Bool {
    access(path, F_OK) == 0
}

/// Waits up to `milliseconds` for `events` on `fd` (`poll`); true if they arrived.
func waitFor(_ fd: Int32, _ events: Int32 = Int32(POLLIN), milliseconds: Int32 = 5_000) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
    return poll(&entry, 1, milliseconds) == 1
}

/// Writes `bytes` with `Descriptor.write` (any fd); the count written or `nil` on `EAGAIN`.
func descriptorWrite(_ fd: Int32, _ bytes: [UInt8]) throws -> Int? {
    try bytes.withUnsafeBytes { buffer in try Descriptor.write(fd, from: buffer) }
}

/// Reads up to `limit` bytes with `Descriptor.read`; `nil` on `EAGAIN`.
func descriptorRead(_ fd: Int32, limit: Int = 4096) throws -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: limit)
    let count = try buffer.withUnsafeMutableBytes { raw in try Descriptor.read(fd, into: raw) }
    return count.map { Array(buffer.prefix($0)) }
}

func isCloseOnExec(_ fd: Int32) -> Bool {
    cselectors_fcntl_get(fd, F_GETFD) & FD_CLOEXEC != 0
}

func isNonBlocking(_ fd: Int32) -> Bool {
    cselectors_fcntl_get(fd, F_GETFL) & O_NONBLOCK != 0
}
