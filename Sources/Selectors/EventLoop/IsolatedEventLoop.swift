/// An `EventLoop` as seen from its own thread: registrations, timers, signals, running and
/// closing, none of which is safe from another thread.
///
/// Get it with `loop.assumeIsolated()` on the loop's thread, and let handlers capture it.
/// It is not `Sendable`, so Swift 6 refuses to capture it in a `@Sendable` closure (one for
/// `execute`, a thread, an actor), which is what keeps a registration from racing with the
/// loop: other threads reach the loop through `EventLoop`'s thread-safe members, and code
/// that runs on the loop's thread through them (`execute`, a timer) calls
/// `assumeIsolated()` again, which checks.
///
/// ```swift
/// let loop = try EventLoop()
/// let io = loop.assumeIsolated()
/// try io.register(fd, events: .read) { fd, _ in
///     if let count = try? Socket.read(fd, into: io.readBuffer), count == 0 {
///         try? io.unregister(fd)  // end of input
///     }
/// }
/// try io.run()
/// ```
public struct IsolatedEventLoop {
    /// The loop itself, for what any thread may do (`execute`, `stop`, a `@Sendable` timer)
    /// and to hand to other threads.
    public let eventLoop: EventLoop

    init(_ loop: EventLoop) { eventLoop = loop }

    // MARK: I/O registrations

    /// Watches `fd` for `events` and runs `handler` on the loop thread when it is ready,
    /// reported in `trigger` mode (level by default; see `Trigger`). See `Selector.register`;
    /// handlers may change any registration, their own included.
    @discardableResult
    public func register(
        _ fd: Int32, events: Events, trigger: Trigger = .level, handler: @escaping SelectorHandler
    ) throws(SelectorError) -> SelectorKey {
        eventLoop.assertOnLoopThread()
        return try eventLoop.selector.register(fd, events: events, trigger: trigger, handler: handler)
    }

    /// `register` with a handler other registrations may share (see `SharedHandler`): no
    /// allocation per registration.
    @discardableResult
    public func register(
        _ fd: Int32, events: Events, trigger: Trigger = .level, handler: SharedHandler
    ) throws(SelectorError) -> SelectorKey {
        eventLoop.assertOnLoopThread()
        return try eventLoop.selector.register(fd, events: events, trigger: trigger, handler: handler)
    }

    /// Changes what `fd` waits for, and optionally its trigger and its handler (re-arming a
    /// one-shot registration). See `Selector.modify`.
    @discardableResult
    public func modify(
        _ fd: Int32, events: Events, trigger: Trigger? = nil, handler: SelectorHandler? = nil
    ) throws(SelectorError) -> SelectorKey {
        eventLoop.assertOnLoopThread()
        let key = try eventLoop.selector.modify(fd, events: events, trigger: trigger, handler: handler)
        if handler != nil { eventLoop.selector.releaseRetiredHandlers() }
        return key
    }

    /// Stops watching `fd`. See `Selector.unregister`. Tasks waiting for it in `readable` or
    /// `writable` fail with `notRegistered`.
    @discardableResult
    public func unregister(_ fd: Int32) throws(SelectorError) -> SelectorKey {
        eventLoop.assertOnLoopThread()
        if let waiters = eventLoop.waiters, waiters.owns(fd), let parked = waiters.forget(fd) {
            // Out of the selector while nobody waited (poll, select), yet registered as far as
            // the caller knows: `readable` promises it stays so until this call.
            return parked
        }
        let key = try eventLoop.selector.unregister(fd)
        eventLoop.selector.releaseRetiredHandlers()
        return key
    }

    /// The key registered for `fd`. See `Selector.key(for:)`.
    public func key(for fd: Int32) throws(SelectorError) -> SelectorKey {
        eventLoop.assertOnLoopThread()
        return try eventLoop.selector.key(for: fd)
    }

    /// The backend of the loop's selector.
    public var backend: Backend { eventLoop.backend }

    /// What the loop's backend can do (trigger modes, regular files, fd limit, hang-ups).
    public var capabilities: BackendCapabilities { eventLoop.capabilities }

    /// A 64 KiB buffer any handler may read into; its contents are only valid until the handler
    /// returns. Sharing one buffer saves every connection from owning one.
    public var readBuffer: UnsafeMutableRawBufferPointer { eventLoop.readBuffer }

    // MARK: Timers and tasks

    /// Runs `body` on the loop thread once `delay` has passed, then every `interval` if given.
    ///
    /// Timers never fire early. They may fire late by about as long as one loop iteration's
    /// work (its handlers, timers and tasks) takes, since the loop runs them between waits.
    /// Timers due at the same instant fire in the order they were scheduled. A repeating timer
    /// is re-armed from its previous deadline, or from now if it fell behind, so a slow loop
    /// does not get a burst of catch-up runs. Huge delays saturate.
    /// The handle cancels it, from any thread.
    @discardableResult
    public func schedule(
        after delay: Duration, repeating interval: Duration? = nil, _ body: @escaping () -> Void
    ) -> TimerHandle {
        eventLoop.scheduleOnLoop(at: now.advanced(by: delay), repeating: interval, body)
    }

    /// Runs `body` on the loop thread at `deadline`, then every `interval` if given.
    @discardableResult
    public func schedule(
        at deadline: LoopInstant, repeating interval: Duration? = nil, _ body: @escaping () -> Void
    ) -> TimerHandle {
        eventLoop.scheduleOnLoop(at: deadline, repeating: interval, body)
    }

    /// The number of scheduled timers.
    public var pendingTimers: Int { eventLoop.timers.count }

    /// The loop's time: see `EventLoop.now`.
    public var now: LoopInstant { eventLoop.now }

    /// Runs `task` on the loop thread after this iteration's handlers and timers (Python's
    /// `call_soon`). Unlike `EventLoop.execute`, `task` need not be `Sendable` and costs no lock
    /// or wake-up. A task queued by a task runs at the next iteration. Dropped once the loop
    /// is closed.
    public func execute(_ task: @escaping () -> Void) {
        eventLoop.localExecute(task)
    }

    // MARK: Signals

    /// Runs `handler` on the loop thread each time the process receives `signal`.
    ///
    /// Several handlers per signal are allowed, on one loop or on up to 16 loops at once (the
    /// C signal handler's fixed table). The signal's previous disposition comes back when the
    /// last loop watching it closes or removes its handlers. Delivery uses a self-pipe; see
    /// `SignalWatcher` for why not `signalfd`.
    /// - Throws: `invalidArgument` for a number that is not a signal (1 to 64) or a signal
    ///   16 other loops watch already; `system(EINVAL)` for `SIGKILL` and `SIGSTOP`, which
    ///   cannot be caught; `virtualLoop` on a `VirtualEventLoop`'s loop; what registering the
    ///   loop's signal pipe threw (`selectorClosed` once the loop is closed).
    public func onSignal(_ signal: Int32, _ handler: @escaping () -> Void) throws(SelectorError) {
        eventLoop.assertOnLoopThread()
        try eventLoop.addSignalHandler(signal, handler)
    }

    /// Removes every handler this loop has for `signal`.
    public func removeSignalHandlers(_ signal: Int32) {
        eventLoop.assertOnLoopThread()
        eventLoop.signals?.removeAll(for: signal)
    }

    // MARK: Running

    /// Runs iterations until `stop()` (or until a handler closes the loop).
    /// - Throws: `loopClosed`; `virtualLoop` on a `VirtualEventLoop`'s loop, whose waits
    ///   never block, so `run()` would spin (use its `run()` and `advance(by:)` instead);
    ///   `invalidArgument` when the loop is running already (called from one of its own
    ///   handlers, tasks or timers: running is not reentrant); what the wait threw.
    public func run() throws(SelectorError) {
        try eventLoop.run()
    }

    /// Runs one iteration, waiting at most `timeout` (nil: until something happens) for I/O,
    /// a due timer, a task or a wake-up. For embedding the loop in another one. On a
    /// `VirtualEventLoop`'s loop the wait never blocks and time stays where it is.
    /// - Throws: `loopClosed`; `invalidArgument` when the loop is running already (see
    ///   `run()`); what the wait threw.
    public func runOnce(timeout: Duration? = nil) throws(SelectorError) {
        try eventLoop.runOnce(timeout: timeout)
    }

    /// Makes `run()` return after the current iteration. See `EventLoop.stop()`.
    public func stop() {
        eventLoop.stop()
    }

    /// Makes a blocked `run()` or `runOnce(timeout:)` return from its wait. See `EventLoop.wakeUp()`.
    public func wakeUp() {
        eventLoop.wakeUp()
    }

    /// Closes the selector, the waker and the signal pipe, and drops timers and queued tasks;
    /// later `execute` calls throw `loopClosed`. Calling it twice is fine. A handler may close
    /// its own loop: `run()` then returns.
    public func close() {
        eventLoop.closeResources()
    }

    /// Whether the loop is closed.
    public var isClosed: Bool { eventLoop.isClosed }

    // MARK: Metrics

    /// What the loop has done so far.
    public var metrics: EventLoopMetrics { eventLoop.counters.snapshot }

    /// Whether the loop measures `metrics.waitTime` and `metrics.workTime`. Off by default,
    /// as libuv's idle-time metric is: it costs two clock reads per iteration, about a sixth
    /// of an I/O-only iteration's instructions.
    public var measuresTime: Bool {
        get { eventLoop.measuresTime }
        nonmutating set { eventLoop.measuresTime = newValue }
    }
}

@available(*, unavailable, message: "IsolatedEventLoop belongs to the loop's thread; pass EventLoop instead")
extension IsolatedEventLoop: Sendable {}
