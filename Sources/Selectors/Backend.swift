/// The kernel readiness interfaces a `Selector` can use.
///
/// Every case exists on every platform so code can name one, but only those in `available`
/// can be created; choosing another throws `SelectorError.Reason.backendUnavailable`.
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Linux `epoll(7)`: cost per wait grows with ready fds, not watched ones.
    case epoll
    /// BSD and Apple `kqueue(2)`.
    case kqueue
    /// Linux `io_uring(7)` polls: interest changes ride with the wait in one system call.
    /// Available only where a probe at first use finds io_uring enabled and recent enough
    /// (Linux 6.1); see `Backend.available`.
    case uring
    /// POSIX `poll(2)`: each wait passes every watched fd to the kernel.
    case poll
    /// POSIX `select(2)`: like poll; limited to fds below `FD_SETSIZE` (1024) where the kernel
    /// is (Apple, and the BSDs until tried there), not on Linux (see `capabilities`).
    case select
    /// No kernel: readiness comes from a `ReadinessScript`, for tests. Not in `available` and
    /// not creatable by name; make one with `Selector(script:)` or `VirtualEventLoop()`.
    case scripted

    /// The kernel interfaces this platform can create by name, best first.
    public static var available: [Backend] { Platform.availableBackends }

    /// The backend `DefaultSelector` uses: epoll on Linux, kqueue on Apple and BSD systems.
    public static var `default`: Backend { Platform.availableBackends[0] }

    /// Looks a backend up by its name (`"epoll"`, `"poll"`, ...), for command lines and tests.
    public init?(name: String) { self.init(rawValue: name.lowercased()) }

    /// Whether this platform can create the backend.
    public var isAvailable: Bool { Platform.availableBackends.contains(self) }

    /// The backend's name, as accepted by `init(name:)`.
    public var description: String { rawValue }
}
