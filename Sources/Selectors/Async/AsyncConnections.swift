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
    private let engine: LoopBound<Connections>

    /// Serves async connections on `loop` with `options`. Loop thread.
    /// - Throws: `invalidArgument` for options out of range.
    public init(on loop: IsolatedEventLoop, options: Connections.Options = Connections.Options())
        throws(SelectorError)
    {
        let engine = try Connections(loop: loop, options: options, pulling: true) { _, _ in }
        self.loop = loop.eventLoop
        self.counters = engine.counters
        self.engine = LoopBound(engine, on: loop.eventLoop)
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
        return AsyncConnection(try engine.value.adopt(fd), on: loop)
    }

    /// Ends every connection gracefully (see `Connections.drain`): tasks waiting on them fail
    /// with `connectionClosed`, queued output is written, and `done` runs once none is left.
    /// Loop thread.
    public func drain(until deadline: LoopInstant, then done: @escaping () -> Void) {
        engine.value.drain(until: deadline, then: done)
    }

    /// Closes every connection at once (see `Connections.closeAll`). Loop thread.
    public func closeAll() {
        engine.value.closeAll()
    }

    /// Whether `drain` has been called. Loop thread.
    public var isDraining: Bool { engine.value.isDraining }

    /// Connections open now. Loop thread.
    public var count: Int { engine.value.count }

    /// Tasks waiting in `read` or `write` now. Loop thread.
    public var waiterCount: Int { engine.value.pullWaiterCount }

    /// The loop's standard instance (default options), made on first use. Loop thread.
    static func standard(on io: IsolatedEventLoop) throws(SelectorError) -> AsyncConnections {
        let loop = io.eventLoop
        if let made = loop.standardAsyncConnections { return made }
        let made = try AsyncConnections(on: io)
        loop.standardAsyncConnections = made
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
