/// The error every `Selector` operation throws: which operation, on which fd, and why.
///
/// Its description reads like `register(fd: 7): already registered`.
public struct SelectorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The public operation that failed.
    public enum Operation: String, Sendable {
        /// Creating the selector (`epoll_create1`, `kqueue`).
        case create
        /// `Selector.register`.
        case register
        /// `Selector.unregister`.
        case unregister
        /// `Selector.modify`.
        case modify
        /// `Selector.select`.
        case select
        /// `Selector.key(for:)`.
        case key = "key(for:)"
        /// `Selector.keys`: Python's `get_map()`.
        case keys
        /// `EventLoop.onSignal`: installing a signal handler.
        case onSignal
        /// `EventLoop.execute`: submitting a task.
        case execute
        /// `EventLoop.run` or `runOnce`.
        case run
        /// Creating a `Connections`.
        case connections = "Connections"
        /// Creating an `OutputBudget`.
        case outputBudget = "OutputBudget"
        /// Creating an `EventLoopGroup`.
        case eventLoopGroup = "EventLoopGroup"
        /// `EventLoopThread.join` or `EventLoopGroup.join`.
        case join
        /// `Connections.adopt`.
        case adopt
        /// `Connection.write`.
        case write
        /// `EventLoop.readable`: awaiting readability.
        case readable
        /// `EventLoop.writable`: awaiting writability.
        case writable
        /// `AsyncConnection.read`.
        case read
        /// `ReadinessScript.makeReady`.
        case makeReady = "ReadinessScript.makeReady"
        /// `ReadinessScript.clearReady`.
        case clearReady = "ReadinessScript.clearReady"
        /// `ReadinessScript.deliver`.
        case deliver = "ReadinessScript.deliver"
        /// `ReadinessScript.hangUp`.
        case hangUp = "ReadinessScript.hangUp"
        /// `ReadinessScript.fail`.
        case fail = "ReadinessScript.fail"
        /// `ReadinessScript.rejectRegistrations`.
        case rejectRegistrations = "ReadinessScript.rejectRegistrations"
        /// `ReadinessScript.reset`.
        case reset = "ReadinessScript.reset"
    }

    /// Why the operation failed.
    public enum Reason: Equatable, Sendable, CustomStringConvertible {
        /// The selector was closed.
        case selectorClosed
        /// The event loop was closed.
        case loopClosed
        /// The connection has ended (the handle is dead).
        case connectionClosed
        /// Nothing more may be written: the connection is closing, half-closed or failed.
        case outputClosed
        /// An argument is out of range; the text says which and why.
        case invalidArgument(String)
        /// Another task already waits on the fd for the same readiness.
        case alreadyWaiting
        /// The events were empty or had bits other than `.read` and `.write`.
        case invalidEvents(Events)
        /// The fd was negative.
        case negativeDescriptor
        /// The fd is already registered.
        case alreadyRegistered
        /// The fd is not registered.
        case notRegistered
        /// The backend cannot watch an fd this large (`select`, where the kernel stops below
        /// `FD_SETSIZE`).
        case descriptorTooLarge(limit: Int32)
        /// The fd is above every fd the process could open when the selector or connections
        /// were made (the hard `RLIMIT_NOFILE`), for which their fd tables reserved room.
        case descriptorBeyondTable(limit: Int32)
        /// The backend is not available on this platform.
        case backendUnavailable(Backend)
        /// The kernel refused: the system call's error number.
        case system(Errno)
        /// The operation needs real time or a kernel, and the loop is a `VirtualEventLoop`'s
        /// (`run()` would spin, since its waits never block; signals never reach it).
        case virtualLoop

        /// A short human explanation.
        public var description: String {
            switch self {
            case .selectorClosed: "the selector is closed"
            case .loopClosed: "the event loop is closed"
            case .connectionClosed: "the connection is closed"
            case .outputClosed: "the connection's output is closed (close, shutdownOutput or a failed write)"
            case .invalidArgument(let message): message
            case .alreadyWaiting: "another task already waits for this"
            case .invalidEvents(let events):
                events.isEmpty
                    ? "no events given (use .read, .write or both)"
                    : "invalid events \(events) (only .read and .write exist)"
            case .negativeDescriptor: "negative file descriptor"
            case .alreadyRegistered: "already registered"
            case .notRegistered: "not registered"
            case .descriptorTooLarge(let limit) where limit == ReadinessScript.descriptorLimit:
                "fd is not below \(limit), the limit of scripted fd numbers"
            case .descriptorBeyondTable(let limit):
                "fd is not below \(limit), the open-files hard limit (RLIMIT_NOFILE) when its fd table was made"
            case .descriptorTooLarge(let limit):
                "fd is not below FD_SETSIZE (\(limit)); the select backend cannot watch it, use epoll or poll"
            case .backendUnavailable(.scripted):
                "the scripted backend is made with Selector(script:) or VirtualEventLoop(), not by name"
            case .backendUnavailable(let backend):
                Platform.unavailabilityReason(of: backend).map {
                    "the \(backend) backend is not available: \($0)"
                }
                    ?? "the \(backend) backend is not available on this platform"
            case .system(let errno): "\(errno)"
            case .virtualLoop:
                "not on a virtual loop: drive it with VirtualEventLoop's run() and advance(by:)"
            }
        }
    }

    /// The operation that failed.
    public let operation: Operation
    /// The fd the operation was about, if it was about one.
    public let fd: Int32?
    /// Why it failed.
    public let reason: Reason

    /// Creates an error; the library throws these, tests may build them to compare.
    public init(_ operation: Operation, fd: Int32?, _ reason: Reason) {
        self.operation = operation
        self.fd = fd
        self.reason = reason
    }

    /// The system call's error number, for a `system` reason.
    var errno: Errno? {
        if case .system(let error) = reason { return error }
        return nil
    }

    /// For example `register(fd: 7): already registered`.
    public var description: String {
        let subject = fd.map { "fd: \($0)" } ?? ""
        return "\(operation.rawValue)(\(subject)): \(reason)"
    }
}
