import CSelectors
import Selectors

/// The descriptors one test opened, closed together when the test's scope ends.
///
/// Tests run in parallel in one process, so a descriptor number closed twice may by then
/// belong to another test. The bag therefore owns each number exactly once: close early
/// through `close(_:)` (which forgets it), never with a bare `close`, unless the number is
/// first removed with `forget(_:)`.
final class OpenDescriptors {
    private(set) var owned: Set<Int32> = []

    /// Takes ownership of `fd`: it is closed when the scope ends.
    @discardableResult
    func adopt(_ fd: Int32) -> Int32 {
        FixedDescriptorNumbers.checkNotReserved(fd)
        owned.insert(fd)
        return fd
    }

    /// Gives up ownership without closing, for a test that closes `fd` behind the selector's
    /// back itself.
    func forget(_ fd: Int32) {
        owned.remove(fd)
    }

    /// Closes `fd` now, if this bag still owns it.
    func close(_ fd: Int32) {
        if owned.remove(fd) != nil { _ = CSelectors.close(fd) }
    }

    /// Closes everything still owned.
    func closeAll() {
        for fd in owned { _ = CSelectors.close(fd) }
        owned = []
    }

    /// A connected, non-blocking, close-on-exec Unix stream socket pair.
    func socketPair() throws(Errno) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else { throw Errno(rawValue: cselectors_errno()) }
        return (adopt(fds[0]), adopt(fds[1]))
    }

    /// A non-blocking, close-on-exec pipe: `(read end, write end)`.
    func pipe() throws(Errno) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard CSelectors.pipe(&fds) == 0 else { throw Errno(rawValue: cselectors_errno()) }
        adopt(fds[0])
        adopt(fds[1])
        try makeNonBlocking(fds[0])
        try makeNonBlocking(fds[1])
        return (fds[0], fds[1])
    }

    /// An open regular file, already unlinked so nothing is left on disk.
    func regularFile() throws(Errno) -> Int32 {
        var template = Array("/tmp/swift-selectors-test-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw Errno(rawValue: cselectors_errno()) }
        adopt(fd)
        _ = unlink(template)
        return fd
    }

    /// A new number for the file `fd` refers to, the lowest free one at or above `minimum`.
    ///
    /// `F_DUPFD` picks a free number atomically, so unlike `dup2` it can never close a
    /// descriptor a concurrently running test owns.
    func duplicate(_ fd: Int32, atLeast minimum: Int32) throws(Errno) -> Int32 {
        let copy = cselectors_fcntl_set(fd, F_DUPFD_CLOEXEC, minimum)
        guard copy >= 0 else { throw Errno(rawValue: cselectors_errno()) }
        return adopt(copy)
    }

    /// Makes `target` (a number this bag owns, or one reserved through
    /// `FixedDescriptorNumbers`) refer to the file of `source`, as `dup2` does.
    func duplicate(_ source: Int32, onto target: Int32) throws(Errno) {
        guard dup2(source, target) == target else { throw Errno(rawValue: cselectors_errno()) }
        adopt(target)
    }
}

/// Runs `body` with a fresh descriptor bag and closes whatever it still owns afterwards,
/// also when `body` throws.
func withDescriptors<Result>(_ body: (OpenDescriptors) throws -> Result) rethrows -> Result {
    let descriptors = OpenDescriptors()
    defer { descriptors.closeAll() }
    return try body(descriptors)
}

/// Sets `O_NONBLOCK`, so a test can never hang in `read` or `write`.
func makeNonBlocking(_ fd: Int32) throws(Errno) {
    let flags = cselectors_fcntl_get(fd, F_GETFL)
    guard flags >= 0, cselectors_fcntl_set(fd, F_SETFL, flags | O_NONBLOCK) >= 0 else {
        throw Errno(rawValue: cselectors_errno())
    }
}

/// Whether `fd` is an open descriptor of this process.
func isOpen(_ fd: Int32) -> Bool {
    cselectors_fcntl_get(fd, F_GETFD) >= 0
}

/// The process's soft limit on open descriptors (`RLIMIT_NOFILE`): one past the largest
/// number a descriptor can have.
var descriptorLimit: Int32 {
    Int32(clamping: sysconf(Int32(_SC_OPEN_MAX)))
}

/// How many descriptors the process has open right now.
///
/// Probes every number below the limit with `fcntl(F_GETFD)` rather than listing
/// /proc/self/fd, because listing would itself open a descriptor and is Linux-only. Other
/// tests run concurrently, so compare counts with a tolerance, never exactly.
func openDescriptorCount() -> Int {
    var count = 0
    for fd in 0..<descriptorLimit where isOpen(fd) { count += 1 }
    return count
}

/// How many open descriptors are kernel objects without a file of their own (Linux's
/// `anon_inode:` links: epoll and io_uring instances, eventfds, signalfds, timerfds), the
/// kinds a selector or loop makes. Where /proc is missing, every open descriptor.
///
/// Leak checks count these rather than every descriptor: tests running alongside open and
/// close sockets and pipes by the hundred, which once moved a whole-process count by 668
/// under ThreadSanitizer.
func kernelObjectDescriptorCount() -> Int {
    descriptorCount(ofKinds: ["anon_inode:"])
}

/// How many open descriptors refer to one of `kinds` (prefixes of their /proc/self/fd links,
/// such as `pipe:` or `anon_inode:`); where /proc is missing, every open descriptor.
func descriptorCount(ofKinds kinds: [String]) -> Int {
    var count = 0
    for fd in 0..<descriptorLimit where isOpen(fd) {
        guard let target = descriptorTarget(fd) else {
            count += 1
            continue
        }
        if kinds.contains(where: { target.hasPrefix($0) }) { count += 1 }
    }
    return count
}

/// What `fd` refers to, as /proc/self/fd shows it (`socket:[1234]`, `anon_inode:[eventpoll]`,
/// a path); nil where that cannot be read.
func descriptorTarget(_ fd: Int32) -> String? {
    var target = [CChar](repeating: 0, count: 256)
    let length = readlink("/proc/self/fd/\(fd)", &target, target.count - 1)
    guard length > 0 else { return nil }
    return String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension OpenDescriptors {
    /// A connected TCP pair over 127.0.0.1, both ends non-blocking: `(client, server)`.
    ///
    /// For behaviours a Unix socket pair cannot show, such as a reset by the peer.
    func tcpLoopbackPair() throws(Errno) -> (client: Int32, server: Int32) {
        let stream = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let listener = socket(AF_INET, stream, 0)
        guard listener >= 0 else { throw Errno(rawValue: cselectors_errno()) }
        defer { _ = CSelectors.close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(listener, generic, length) == 0 && listen(listener, 1) == 0
                    && getsockname(listener, generic, &length) == 0
            }
        }
        guard listening else { throw Errno(rawValue: cselectors_errno()) }
        let client = adopt(socket(AF_INET, stream, 0))
        guard client >= 0 else { throw Errno(rawValue: cselectors_errno()) }
        // Blocking connect: on loopback the handshake completes inside the call.
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) == 0 }
        }
        guard connected else { throw Errno(rawValue: cselectors_errno()) }
        let server = accept(listener, nil, nil)
        guard server >= 0 else { throw Errno(rawValue: cselectors_errno()) }
        adopt(server)
        try makeNonBlocking(client)
        try makeNonBlocking(server)
        return (client, server)
    }

    /// Closes `fd` so that the peer receives a reset (`SO_LINGER` with a zero timeout)
    /// instead of an orderly end of stream.
    func reset(_ fd: Int32) throws(Errno) {
        var option = linger(l_onoff: 1, l_linger: 0)
        guard setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size)) == 0 else {
            throw Errno(rawValue: cselectors_errno())
        }
        close(fd)
    }
}
