internal import CSelectors
import Synchronization

/// Runs I/O handlers, timers, cross-thread tasks and signal handlers on one thread.
///
/// ```swift
/// let loop = try EventLoop()
/// try loop.register(fd, events: .read) { fd, events in /* read */ }
/// loop.schedule(after: .seconds(1)) { print("a second later") }
/// otherThread { loop.execute { print("on the loop thread") } }
/// try loop.run()   // until loop.stop()
/// ```
///
/// Threading: `execute(_:)`, `stop()` and `wakeUp()` may be called from any thread. Everything
/// else belongs to the loop thread, the thread inside `run()` or `runOnce(timeout:)`; while no
/// thread is running the loop, one thread at a time may set it up. Debug builds check this.
///
/// Each iteration, like libuv's `uv_run`: compute the wait from the next timer and pending
/// work; wait in the selector; run the handlers of ready fds; run due timers; run tasks
/// submitted with `execute`.
public final class EventLoop: @unchecked Sendable {
    // @unchecked: the mutable state below is confined to the loop thread (checked in debug
    // builds); the members used across threads (`tasks`, `stopRequested`) are synchronised.

    /// The backend of the loop's selector.
    public var backend: Backend { selector.backend }

    /// The first fd number the loop's selector cannot watch, or `nil` for no limit. See
    /// `Selector.descriptorLimit`. Any thread.
    public var descriptorLimit: Int32? { selector.descriptorLimit }

    /// What the loop has done so far. Read it on the loop thread.
    public var metrics: EventLoopMetrics { counters.snapshot }

    /// Whether the loop measures `metrics.waitTime` and `metrics.workTime`. Off by default,
    /// as libuv's idle-time metric is: it costs two clock reads per iteration, about a sixth
    /// of an I/O-only iteration's instructions. Set it on the loop thread.
    @exclusivity(unchecked) public var measuresTime = false

    /// A 64 KiB buffer any handler may read into; its contents are only valid until the handler
    /// returns. Sharing one buffer saves every connection from owning one.
    public let readBuffer: UnsafeMutableRawBufferPointer

    // Loop-thread state is `@exclusivity(unchecked)`: it is confined to one thread, and the
    // runtime's dynamic exclusivity checks on class properties cost more than the dispatch.
    private let selector: Selector
    private let tasks: TaskQueue
    @exclusivity(unchecked) private var counters = LoopCounters()
    @exclusivity(unchecked) private var runningTasks: [TaskQueue.Task] = []
    @exclusivity(unchecked) private var timers = TimerQueue()
    @exclusivity(unchecked) private var signals: SignalWatcher?
    private let stopRequested = Atomic<Bool>(false)
    @exclusivity(unchecked) private var runningThread: pthread_t?
    @exclusivity(unchecked) private(set) var isClosed = false
    /// `nil` on every real loop; a `VirtualEventLoop`'s clock otherwise.
    private let virtualClock: VirtualClock?

    /// Creates a loop on `backend` (by default the platform's best, epoll on Linux).
    public convenience init(backend: Backend = .default) throws(SelectorError) {
        let selector = try Selector(backend: backend)
        let waker: any Waker
        do {
            waker = try Platform.makeWaker()
        } catch {
            selector.close()
            throw SelectorError(.create, fd: nil, .system(error))
        }
        self.init(selector: selector, waker: waker, virtualClock: nil)
        try selector.register(waker.readFD, events: .read) { _, _ in waker.drain() }
    }

    /// A loop over `selector`, woken by `waker` (which the caller registers, if it has an fd),
    /// reading time from `virtualClock` if given, else from the monotonic clock.
    init(selector: Selector, waker: any Waker, virtualClock: VirtualClock?) {
        self.selector = selector
        self.tasks = TaskQueue(waker: waker)
        self.virtualClock = virtualClock
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        close()
        readBuffer.deallocate()
    }

    // MARK: I/O registrations (loop thread)

    /// Watches `fd` for `events` and runs `handler` on the loop thread when it is ready,
    /// reported in `trigger` mode (level by default; see `Trigger`). See `Selector.register`;
    /// handlers may change any registration, their own included.
    @discardableResult
    public func register(
        _ fd: Int32, events: Events, trigger: Trigger = .level, handler: @escaping SelectorHandler
    ) throws(SelectorError) -> SelectorKey {
        assertOnLoopThread()
        return try selector.register(fd, events: events, trigger: trigger, handler: handler)
    }

    /// Changes what `fd` waits for, and optionally its trigger and its handler (re-arming a
    /// one-shot registration). See `Selector.modify`.
    @discardableResult
    public func modify(
        _ fd: Int32, events: Events, trigger: Trigger? = nil, handler: SelectorHandler? = nil
    ) throws(SelectorError) -> SelectorKey {
        assertOnLoopThread()
        return try selector.modify(fd, events: events, trigger: trigger, handler: handler)
    }

    /// What the loop's backend can do (trigger modes, regular files, fd limit, hang-ups).
    public var capabilities: BackendCapabilities { selector.capabilities }

    /// Stops watching `fd`. See `Selector.unregister`.
    @discardableResult
    public func unregister(_ fd: Int32) throws(SelectorError) -> SelectorKey {
        assertOnLoopThread()
        return try selector.unregister(fd)
    }

    /// The key registered for `fd`. See `Selector.key(for:)`.
    public func key(for fd: Int32) throws(SelectorError) -> SelectorKey {
        assertOnLoopThread()
        return try selector.key(for: fd)
    }

    // MARK: Timers (loop thread)

    /// Runs `body` on the loop thread once `delay` has passed, then every `interval` if given.
    ///
    /// Timers never fire early; timers due at the same instant fire in the order they were
    /// scheduled. A repeating timer is re-armed from its previous deadline, or from now if it
    /// fell behind, so a slow loop does not get a burst of catch-up runs. Huge delays saturate.
    @discardableResult
    public func schedule(
        after delay: Duration, repeating interval: Duration? = nil, _ body: @escaping () -> Void
    ) -> TimerHandle {
        schedule(at: now.advanced(by: delay), repeating: interval, body)
    }

    /// The loop's time: the monotonic clock (`LoopInstant.now`), or a `VirtualEventLoop`'s
    /// virtual time. Timer deadlines count on it, so compute `schedule(at:)` deadlines from it.
    public var now: LoopInstant { LoopInstant(nanoseconds: readClock()) }

    /// Runs `body` on the loop thread at `deadline`, then every `interval` if given.
    @discardableResult
    public func schedule(
        at deadline: LoopInstant, repeating interval: Duration? = nil, _ body: @escaping () -> Void
    ) -> TimerHandle {
        assertOnLoopThread()
        let entry = TimerEntry(
            deadline: deadline.nanoseconds, sequence: timers.makeSequence(),
            interval: interval.map { max(0, $0.saturatedNanoseconds) }, body: body)
        if !isClosed { timers.insert(entry) }
        return TimerHandle(entry: entry, loop: self)
    }

    func cancel(_ entry: TimerEntry) {
        assertOnLoopThread()
        timers.remove(entry)
        entry.body = nil
    }

    /// The number of scheduled timers.
    public var pendingTimers: Int { timers.count }

    // MARK: Signals (loop thread)

    /// Runs `handler` on the loop thread each time the process receives `signal`.
    ///
    /// Several handlers per signal are allowed, on one loop or several. The signal's previous
    /// disposition comes back when the last loop watching it closes or removes its handlers.
    /// Delivery uses a self-pipe; see `SignalWatcher` for why not `signalfd`.
    public func onSignal(_ signal: Int32, _ handler: @escaping () -> Void) throws(SelectorError) {
        assertOnLoopThread()
        // Its pipe would be a real fd among the script's numbers, and nothing would report it.
        if virtualClock != nil { throw SelectorError(.onSignal, fd: nil, .virtualLoop) }
        let watcher = try signalWatcher()
        do {
            try watcher.add(signal, handler)
        } catch {
            throw SelectorError(.onSignal, fd: nil, .system(error))
        }
    }

    private func signalWatcher() throws(SelectorError) -> SignalWatcher {
        if let signals { return signals }
        let watcher: SignalWatcher
        do {
            watcher = try SignalWatcher()
        } catch {
            throw SelectorError(.onSignal, fd: nil, .system(error))
        }
        do {
            try selector.register(watcher.readFD, events: .read) { _, _ in watcher.dispatchPending() }
        } catch {
            watcher.close()
            throw error
        }
        signals = watcher
        return watcher
    }

    /// Removes every handler this loop has for `signal`.
    public func removeSignalHandlers(_ signal: Int32) {
        assertOnLoopThread()
        signals?.removeAll(for: signal)
    }

    // MARK: Cross-thread (any thread)

    /// Runs `task` once on the loop thread, after the current iteration's handlers.
    ///
    /// Safe from any thread, including the loop's. Tasks from one thread run in the order they
    /// were submitted. Many submissions between two iterations cost one wake-up write.
    /// Tasks submitted after `close()` are discarded.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.submit(task)
    }

    /// Makes a blocked `run()` or `runOnce(timeout:)` return from its wait. Any thread.
    public func wakeUp() {
        tasks.wakeUp()
    }

    /// Makes `run()` return after the current iteration; if the loop is not running, the next
    /// `run()` returns at once. Any thread, including a handler on the loop thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        tasks.wakeUp()
    }

    // MARK: Running

    /// Runs iterations until `stop()` (or until a handler closes the loop).
    /// - Throws: `selectorClosed`; `virtualLoop` on a `VirtualEventLoop`'s loop, whose waits
    ///   never block, so `run()` would spin (use its `run()` and `advance(by:)` instead).
    public func run() throws(SelectorError) {
        if virtualClock != nil { throw SelectorError(.select, fd: nil, .virtualLoop) }
        try enter()
        defer { leave() }
        // A handler may close the loop; run() then returns like after stop().
        while !isClosed && !takeStopRequest() {
            try iterate(limit: nil, honoringStop: true, clock: MonotonicLoopClock())
        }
    }

    /// Runs one iteration, waiting at most `timeout` (nil: until something happens) for I/O,
    /// a due timer, a task or a wake-up. For embedding the loop in another one. On a
    /// `VirtualEventLoop`'s loop the wait never blocks and time stays where it is.
    public func runOnce(timeout: Duration? = nil) throws(SelectorError) {
        try enter()
        defer { leave() }
        let limit = WaitTimeout(timeout)?.nanoseconds
        if let virtualClock {
            try iterate(limit: limit, honoringStop: false, clock: virtualClock)
        } else {
            try iterate(limit: limit, honoringStop: false, clock: MonotonicLoopClock())
        }
    }

    /// Closes the selector, the waker and the signal pipe, and drops timers and queued tasks.
    /// Calling it twice is fine. Call it on the loop thread, or when the loop is not running.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        signals?.close()
        signals = nil
        selector.close()
        tasks.close()
        timers.removeAll()
    }

    /// One iteration. The clock is read only when something needs it: the timers (before the
    /// wait for its timeout, after it for what is due) and the time metrics. An I/O-only loop
    /// makes no clock call at all.
    ///
    /// Generic over the clock so that virtual time costs a real loop nothing here: each
    /// caller picks the clock once, and the compiler specialises this body for each, so the
    /// monotonic version reads `clock_gettime` exactly as if it were written in. (A branch
    /// per clock read cost 16 instructions per iteration: the call moved into a conditional
    /// block and its neighbours spilled; measured with callgrind, echo-server --idle-timeout.)
    private func iterate<Clock: LoopClock>(limit: Int64?, honoringStop: Bool, clock: Clock)
        throws(SelectorError)
    {
        let timed = timers.count > 0
        let start = timed || measuresTime ? clock.now() : 0
        let stopping = honoringStop && stopRequested.load(ordering: .acquiring)
        _ = try selector.select(
            limit: stopping ? WaitTimeout(nanoseconds: 0) : waitTimeout(now: start, limit: limit))
        let woke = timed || measuresTime ? clock.now() : 0

        let dispatched = selector.forEachReady { key, events in key.handler(key.fd, events) }
        // Timers use the time the wait ended: one that falls due while handlers run fires on
        // the next iteration, whose wait is then zero. Late by one pass, never early. A timer
        // first scheduled by a handler of this iteration waits for the next one too.
        if timed { runDueTimers(now: woke) }
        if tasks.mayHaveTasks { runTasks() }

        counters.iterations &+= 1
        counters.eventsDispatched &+= UInt64(dispatched)
        if measuresTime {
            counters.waitNanoseconds &+= woke - start
            counters.workNanoseconds &+= clock.now() - woke
        }
    }

    /// Until the next timer, capped by `limit`. Pending tasks need no special case: their
    /// wake-up left the waker readable, so the wait returns at once.
    private func waitTimeout(now: Int64, limit: Int64?) -> WaitTimeout? {
        var nanoseconds = limit
        if let next = timers.first {
            let untilTimer = max(0, next.deadline.subtractingSaturating(now))
            nanoseconds = min(nanoseconds ?? untilTimer, untilTimer)
        }
        return nanoseconds.map { WaitTimeout(nanoseconds: $0) }
    }

    /// Runs the timers due at `now`, as one batch. Timers scheduled while the batch runs (a
    /// timer re-arming itself with no delay, say) wait for the next iteration, so they cannot
    /// keep the loop from polling I/O.
    private func runDueTimers(now: Int64) {
        let batchEnd = timers.nextSequence
        while let entry = timers.first, entry.deadline <= now, entry.sequence < batchEnd {
            timers.remove(entry)
            let body = entry.body
            if let interval = entry.interval {
                let next = entry.deadline.addingSaturating(interval)
                entry.deadline = next > now ? next : now.addingSaturating(interval)
                // A fresh sequence puts the re-armed timer outside this batch.
                entry.sequence = timers.makeSequence()
                timers.insert(entry)
            } else {
                entry.body = nil
            }
            counters.timersFired &+= 1
            body?()
        }
    }

    private func runTasks() {
        tasks.take(into: &runningTasks)
        guard !runningTasks.isEmpty else { return }
        for task in runningTasks { task() }
        counters.tasksRun &+= UInt64(runningTasks.count)
        runningTasks.removeAll(keepingCapacity: true)
    }

    /// The loop's time outside an iteration (`now`, `schedule(after:)`), where one predictable
    /// branch is nothing next to the rest of the call.
    private func readClock() -> Int64 {
        if let virtualClock { return virtualClock.nanoseconds }
        return MonotonicClock.now()
    }

    // MARK: For VirtualEventLoop

    /// The earliest timer deadline, if any timer is scheduled.
    var nextTimerDeadline: Int64? { timers.first?.deadline }

    /// Whether `execute` (or `stop`, or `wakeUp`) left something for the next iteration.
    var hasQueuedTasks: Bool { tasks.mayHaveTasks }

    /// Whether `stop()` was called and no `run()` has consumed it yet.
    var isStopRequested: Bool { stopRequested.load(ordering: .acquiring) }

    /// Consumes a pending `stop()`. A plain load first: the locked exchange is only needed
    /// when a stop is actually pending, not on every iteration.
    @inline(__always)
    private func takeStopRequest() -> Bool {
        stopRequested.load(ordering: .relaxed)
            && stopRequested.exchange(false, ordering: .acquiringAndReleasing)
    }

    private func enter() throws(SelectorError) {
        guard !isClosed else { throw SelectorError(.select, fd: nil, .selectorClosed) }
        precondition(runningThread == nil, "EventLoop is already running; run() is not reentrant")
        runningThread = pthread_self()
    }

    private func leave() {
        runningThread = nil
    }

    /// Debug builds only: traps when a loop-thread API is called from another thread while the
    /// loop runs.
    @inline(__always)
    private func assertOnLoopThread(_ function: StaticString = #function) {
        assert(
            runningThread.map { pthread_equal($0, pthread_self()) != 0 } ?? true,
            "EventLoop.\(function) must be called on the loop thread (or while the loop is not running)")
    }
}
