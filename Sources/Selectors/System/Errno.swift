internal import CSelectors

/// A POSIX error number, as set in `errno` by a failing system call.
///
/// The common values have Swift names, so callers can write `catch let error where error == .wouldBlock`.
/// The names are swift-system's (`badFileDescriptor`, `tooManyOpenFiles`, `nowInProgress`, ...),
/// so code reads the same with either library. A file that imports both `Selectors` and
/// `SystemPackage` sees two types named `Errno`: write `Selectors.Errno` there.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw `errno` value.
    public let rawValue: Int32

    /// Wraps a raw `errno` value.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    static var current: Errno { Errno(rawValue: cselectors_errno()) }

    /// `EINTR`: a signal interrupted the call.
    public static let interrupted = Errno(rawValue: EINTR)
    /// `EAGAIN` (same value as `EWOULDBLOCK` on Linux and Darwin): a non-blocking call would block.
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    /// `EBADF`: not an open file descriptor.
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    /// `EPERM`: the operation is not permitted (epoll refuses regular files with it).
    public static let notPermitted = Errno(rawValue: EPERM)
    /// `ENOENT`: no such entry (epoll: the fd is not in the interest list).
    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    /// `EEXIST`: already exists (epoll: the fd is already in the interest list).
    public static let fileExists = Errno(rawValue: EEXIST)
    /// `EINVAL`: an invalid argument.
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// `EMFILE`: the process has reached its open file limit.
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
    /// `ENFILE`: the system has reached its open file limit.
    public static let tooManyOpenFilesInSystem = Errno(rawValue: ENFILE)
    /// `EPIPE`: the peer closed the connection for writing.
    public static let brokenPipe = Errno(rawValue: EPIPE)
    /// `ECONNRESET`: the peer reset the connection.
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    /// `ECONNREFUSED`: nothing listens at the address.
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    /// `EINPROGRESS`: a non-blocking connect has started and will finish later.
    public static let nowInProgress = Errno(rawValue: EINPROGRESS)
    /// `EADDRINUSE`: the address is already bound.
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    /// `ENOMEM`: the kernel could not allocate memory.
    public static let noMemory = Errno(rawValue: ENOMEM)
    /// `ETIMEDOUT`: the operation timed out.
    public static let timedOut = Errno(rawValue: ETIMEDOUT)

    /// The symbolic name and the C library's message, for example `EBADF (Bad file descriptor)`.
    public var description: String {
        let message = strerror(rawValue).map { String(cString: $0) } ?? "unknown error"
        return "\(Errno.symbol(for: rawValue)) (\(message))"
    }

    private static func symbol(for value: Int32) -> String {
        switch value {
        case EINTR: "EINTR"
        case EAGAIN: "EAGAIN"
        case EBADF: "EBADF"
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case EEXIST: "EEXIST"
        case EINVAL: "EINVAL"
        case EMFILE: "EMFILE"
        case ENFILE: "ENFILE"
        case EPIPE: "EPIPE"
        case ECONNRESET: "ECONNRESET"
        case ECONNREFUSED: "ECONNREFUSED"
        case EINPROGRESS: "EINPROGRESS"
        case EADDRINUSE: "EADDRINUSE"
        case ENOMEM: "ENOMEM"
        case ETIMEDOUT: "ETIMEDOUT"
        case ECONNABORTED: "ECONNABORTED"
        case ENOTCONN: "ENOTCONN"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case EACCES: "EACCES"
        case ENOTSOCK: "ENOTSOCK"
        case ENAMETOOLONG: "ENAMETOOLONG"
        case EAFNOSUPPORT: "EAFNOSUPPORT"
        case EMSGSIZE: "EMSGSIZE"
        case EIO: "EIO"
        default: "errno \(value)"
        }
    }
}
