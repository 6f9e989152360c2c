/// The `AsyncConnection`s of one loop, and how they are buffered: a `Connections` whose
/// connections are read by tasks rather than by the loop.
///
/// ```swift
/// let connections = try AsyncConnections(on: io, options: options)   // on the loop's thread
/// let connection = try await connections.adopt(fd)                    // from any task
/// ```
///
/// Most code needs none: `AsyncConnection.adopt(_:on:)` and `Listener.connections(on:)` use
/// the loop's standard one (the default `Connections.Options`). Make one to choose the water
/// marks, an idle timeout or a shared `OutputBudget`. (`halfClose` is always on: after the
/// peer's end of stream the task decides when to close.)
public final class AsyncConnections: Sendable {
    /// The loop the connections are served on.
    public let loop: EventLoop
    /// The counts of every connection adopted here, from any thread.
    public let counters: ConnectionCounters
    /// The engine, retained by hand: its last release must happen on the loop's thread (its
    /// deinit edits the loop's close observers and timers), and this object, `Sendable`, may
    /// be dropped on any thread (see `deinit`).
    private let engineReference: UncheckedSendable<Unmanaged<Connections>>

    /// The engine; loop thread only (traps elsewhere, as `LoopBound.value` does).
    private var engine: Connections {
        precondition(loop.isOnLoopThread, "AsyncConnections used off the loop's thread")
        return engineReference.value.takeUnretainedValue()
    }

    /// Serves async connections on `loop` with `options`. Loop thread.
    /// - Throws: `invalidArgument` for options out of range.
    public init(on loop: IsolatedEventLoop, options: Connections.Options = Connections.Options())
        throws(SelectorError)
    {
        let engine = try Connections(loop: loop, options: options, pulling: true) { _, _ in }
        self.loop = loop.eventLoop
        self.counters = engine.counters
        self.engineReference = UncheckedSendable(Unmanaged.passRetained(engine))
    }

    /// Releases the engine on the loop's thread: released here, on another thread, its deinit
    /// would edit the loop's state while the loop runs (a corrupted close-observer table). A
    /// closed loop refuses the hop; its observers are gone by then.
    deinit {
        let reference = engineReference.value
        if loop.isOnLoopThread { return reference.release() }
        // Released when the closure goes: on the loop's thread after it ran, or wherever a
        // closing loop drops it, or here if the loop refuses it.
        let release = ReleaseOnce(reference)
        try? loop.execute { release.release() }
    }

    /// Takes over `fd` (a connected, non-blocking stream: accepted sockets are; the fd is
    /// closed when the connection ends). From any task.
    /// - Throws: what registering the fd threw (the fd is then still the caller's).
    public func adopt(_ fd: Int32) async throws -> AsyncConnection {
        try await AsyncConnections.onLoop(loop, adopting: fd) { io in try adopt(fd, on: io) }
    }

    /// `adopt`, on the loop's thread, without suspending.
    /// - Throws: `invalidArgument` when `io` is another loop than this pool's (the fd is then
    ///   still the caller's); what registering the fd threw.
    public func adopt(_ fd: Int32, on io: IsolatedEventLoop) throws(SelectorError) -> AsyncConnection {
        guard io.eventLoop === loop else {
            throw SelectorError(.adopt, fd: fd, .invalidArgument("the loop given is not this pool's loop"))
        }
        return AsyncConnection(try engine.adopt(fd), on: loop)
    }

    /// Ends every connection gracefully (see `Connections.drain`): tasks waiting on them fail
    /// with `connectionClosed`, queued output is written, and `done` runs once none is left.
    /// Loop thread.
    public func drain(until deadline: LoopInstant, then done: @escaping () -> Void) {
        engine.drain(until: deadline, then: done)
    }

    /// Closes every connection at once (see `Connections.closeAll`). Loop thread.
    public func closeAll() {
        engine.closeAll()
    }

    /// Whether `drain` has been called. Loop thread.
    public var isDraining: Bool { engine.isDraining }

    /// Connections open now. Loop thread.
    public var count: Int { engine.count }

    /// Tasks waiting in `read` or `write` now. Loop thread.
    public var waiterCount: Int { engine.pullWaiterCount }

    /// The loop's standard instance (default options), made on first use. Loop thread.
    static func standard(on io: IsolatedEventLoop) throws(SelectorError) -> AsyncConnections {
        let loop = io.eventLoop
        if let made = loop.standardAsyncConnections { return made }
        let made = try AsyncConnections(on: io)
        // Not kept by a closed loop (its close dropped the one it had): the loop and the pool
        // would hold each other for good. Its `adopt` throws `loopClosed` anyway.
        if !loop.isClosed { loop.standardAsyncConnections = made }
        return made
    }

    /// Runs `body`, which adopts `fd`, on `loop`'s thread with its isolated view: at once if
    /// the task is there, else with the loop as the task's executor preference.
    static func onLoop<Result>(
        _ loop: EventLoop, adopting fd: Int32, _ body: (IsolatedEventLoop) throws -> Result
    ) async throws -> Result {
        if loop.isOnLoopThread { return try body(loop.assumeIsolated()) }
        return try await withTaskExecutorPreference(loop) {
            guard loop.isOnLoopThread else { throw SelectorError(.adopt, fd: fd, .loopClosed) }
            return try body(loop.assumeIsolated())
        }
    }
}

/// Releases an object retained by hand: when `release()` is called, or when this box goes
/// without it (a closure dropped by a closing loop, or refused).
private final class ReleaseOnce: Sendable {
    private let reference: Locked<UncheckedSendable<Unmanaged<Connections>>?>
    init(_ reference: Unmanaged<Connections>) { self.reference = Locked(UncheckedSendable(reference)) }
    func release() { reference.withLock { $0.take() }?.value.release() }
    deinit { release() }
}
