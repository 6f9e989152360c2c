/// The closure a registration runs when its fd is ready: it receives the fd and the ready events.
///
/// Handlers run on the thread that calls `select` (or on the event loop's thread); they capture
/// whatever state they need, which is what Python's `data` field is for.
public typealias SelectorHandler = (_ fd: Int32, _ events: Events) -> Void

/// A handler that many registrations can share, so registering with it allocates nothing.
///
/// `register(_:events:trigger:handler:)` with a plain closure boxes it in one of these, one
/// allocation per registration; code that watches many fds with the same closure (a server's
/// connections) makes one `SharedHandler` and registers every fd with it.
public final class SharedHandler {
    /// The closure.
    public let handler: SelectorHandler
    /// Set on the handler a level-triggered `Connections` registers its connections with: the
    /// dispatch then calls `Connections.ready` directly, so the read path is inlined into the
    /// event loop rather than reached through a closure and its context (callgrind: 22
    /// instructions per echo round trip). The closure does the same, for callers of `select`
    /// that run it themselves.
    let connections: Unretained<Connections>?

    /// Wraps `handler`.
    public init(_ handler: @escaping SelectorHandler) {
        self.handler = handler
        connections = nil
    }

    /// The handler of `connections`' registrations (level-triggered, pushed), which the
    /// object keeps alive.
    init(connections: Unretained<Connections>) {
        handler = { fd, events in connections.with { $0.ready(fd, events) } }
        self.connections = connections
    }

    /// Runs the handler for a ready `fd`.
    @inline(__always)
    func run(_ fd: Int32, _ events: Events) {
        if let connections {
            connections.with { $0.ready(fd, events) }
        } else {
            handler(fd, events)
        }
    }
}

/// One registration: the fd, the events it waits for, its trigger mode, and its handler.
///
/// The analogue of Python's `SelectorKey(fileobj, fd, events, data)`. A key is a value: it
/// describes the registration as it was when the key was returned.
public struct SelectorKey {
    /// The registered file descriptor.
    public let fd: Int32
    /// The events the registration waits for.
    public let events: Events
    /// When readiness is reported: level (the default), edge or one-shot.
    public let trigger: Trigger
    /// The handler, shared or boxed at registration.
    public let sharedHandler: SharedHandler
    /// Tells this registration of `fd` apart from earlier and later ones (see `ReadyEvent`).
    let generation: UInt32

    /// The closure to run when the fd is ready.
    public var handler: SelectorHandler { sharedHandler.handler }

    init(fd: Int32, slot: KeyTable.Slot) {
        self.fd = fd
        self.events = slot.events
        self.trigger = slot.trigger
        self.sharedHandler = slot.handler!.takeUnretainedValue()
        self.generation = slot.generation
    }
}
