/// The closure a registration runs when its fd is ready: it receives the fd and the ready events.
///
/// Handlers run on the thread that calls `select` (or on the event loop's thread); they capture
/// whatever state they need, which is what Python's `data` field is for.
public typealias SelectorHandler = (_ fd: Int32, _ events: Events) -> Void

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
    /// The closure to run when the fd is ready.
    public let handler: SelectorHandler
    /// Tells this registration of `fd` apart from earlier and later ones (see `ReadyEvent`).
    let generation: UInt32
}
