/// What a backend can do on this platform, so callers need no trial and error: how it provides
/// each trigger mode, which fds it accepts, and how a hang-up shows.
public struct BackendCapabilities: Equatable, Sendable, CustomStringConvertible {
    /// How a trigger mode is provided.
    public enum Support: String, Equatable, Sendable {
        /// By the kernel (`EPOLLET`, `EPOLLONESHOT`, `EV_CLEAR`, `EV_DISPATCH`, io_uring's
        /// multishot and single-shot polls).
        case native
        /// By the library in user space, to the rules written on `Trigger`.
        case emulated
    }

    /// How `.edge` is provided. Emulated edge reports a readiness the handler left in place
    /// again at the next `select`, where the kernel would wait for something new (see `Trigger`).
    public let edge: Support
    /// How `.oneShot` is provided; the emulation is exact (the fd is not watched once reported).
    public let oneShot: Support
    /// Whether `register` accepts a regular file. poll, select and uring report it always
    /// ready; kqueue reports it readable while its offset is below its size (an empty file, or
    /// one read to its end, is not reported); epoll refuses it with `EPERM`.
    public let acceptsRegularFiles: Bool
    /// The first fd number the backend cannot watch, or `nil` when any fd the process can open
    /// is fine. Only select has one, and only where the kernel stops at `FD_SETSIZE`.
    public let descriptorLimit: Int32?
    /// Whether the kernel reports a hang-up as a condition of its own (`EPOLLHUP`, `POLLHUP`,
    /// `EV_EOF`), which the selector passes on as read *and* write readiness, so a write-only
    /// key hears of it. select has no such bit: a hang-up shows in the read set only.
    public let reportsHangUpSeparately: Bool

    /// For example `edge: native, one-shot: native, regular files: refused, fds: any, hang-up: separate`.
    public var description: String {
        "edge: \(edge.rawValue), one-shot: \(oneShot.rawValue), "
            + "regular files: \(acceptsRegularFiles ? "accepted" : "refused"), "
            + "fds: \(descriptorLimit.map { "below \($0)" } ?? "any"), "
            + "hang-up: \(reportsHangUpSeparately ? "separate" : "as readability only")"
    }
}

extension Backend {
    /// What this backend can do on this platform (the same value whether or not it is available).
    public var capabilities: BackendCapabilities {
        switch self {
        case .epoll:
            BackendCapabilities(
                edge: .native, oneShot: .native, acceptsRegularFiles: false, descriptorLimit: nil,
                reportsHangUpSeparately: true)
        case .kqueue:
            BackendCapabilities(
                edge: .native, oneShot: .native, acceptsRegularFiles: true, descriptorLimit: nil,
                reportsHangUpSeparately: true)
        case .uring:
            // Edge is a multishot poll, which the kernel completes on wake-ups only, as epoll's
            // EPOLLET reports; one-shot a single-shot poll. A closed fd or a regular file is
            // accepted and reported ready, as by poll(2).
            BackendCapabilities(
                edge: .native, oneShot: .native, acceptsRegularFiles: true, descriptorLimit: nil,
                reportsHangUpSeparately: true)
        case .poll:
            BackendCapabilities(
                edge: .emulated, oneShot: .emulated, acceptsRegularFiles: true, descriptorLimit: nil,
                reportsHangUpSeparately: true)
        case .select:
            BackendCapabilities(
                edge: .emulated, oneShot: .emulated, acceptsRegularFiles: true,
                descriptorLimit: Platform.selectDescriptorLimit, reportsHangUpSeparately: false)
        case .scripted:
            // The script plays the kernel: edge reports scripted changes, as epoll reports
            // arrivals; a scripted hang-up wakes read and write keys alike.
            BackendCapabilities(
                edge: .native, oneShot: .native, acceptsRegularFiles: true,
                descriptorLimit: ReadinessScript.descriptorLimit, reportsHangUpSeparately: true)
        }
    }
}
