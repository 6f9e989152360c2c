internal import CSelectors
import Synchronization

/// Runs I/O handlers, timers, cross-thread tasks and signal handlers on one thread.
///
/// ```swift
/// let loop = try EventLoop()
/// let io = loop.assumeIsolated()           // this thread is the loop's
/// try io.register(fd, events: .read) { fd, events in /* read */ }
/// io.schedule(after: .seconds(1)) { print("a second later") }
/// otherThread { try? loop.execute { print("on the loop thread") } }
/// try io.run()                             // until loop.stop()
/// ```
///
/// **Threads.** A loop belongs to the thread that created it (an `EventLoopThread` creates
/// its loop on its own thread). `EventLoop` itself is `Sendable` and offers only what is safe
/// from any thread: `execute`, `schedule` with a `@Sendable` body, `stop`, `wakeUp`, and
/// reading `now` or the backend. Everything that touches the loop's state (registering fds,
/// timers with plain closures, signals, running, closing) lives on `IsolatedEventLoop`, which
/// is not `Sendable`: it comes from `assumeIsolated()`, which traps off the loop's thread, so
/// in Swift 6 a wrong-thread call does not compile unless it goes through that greppable
/// opt-in. Handlers capture the isolated view, since they run on the loop's thread.
///
/// **Each iteration**, like libuv's `uv_run`: compute the wait from the next timer and pending
/// work; wait in the selector; run the handlers of ready fds; run due timers; run tasks.
public final class EventLoop: @unchecked Sendable {
    // @unchecked: the mutable state below is confined to the loop's thread (only
    // `IsolatedEventLoop`, obtained there, reaches it); the members other threads use
    // (`tasks`, `stopRequested`, `closed`, `ownerThread`, the clock) are synchronised or
    // immutable.

    /// The backend of the loop's selector.
    public var backend: Backend { selector.backend }

    /// What the loop's backend can do (trigger modes, regular files, fd limit, hang-ups).
    public var capabilities: BackendCapabilities { selector.capabilities }

    /// The first fd number the loop's selector cannot watch, or `nil` for no limit. See
    /// `Selector.descriptorLimit`.
    public var descriptorLimit: Int32? { selector.descriptorLimit }

    /// A 64 KiB buffer any handler may read into; its contents are only valid until the handler
    /// returns. Sharing one buffer saves every connection from owning one.
    let readBuffer: UnsafeMutableRawBufferPointer

    // Loop-thread state is `@exclusivity(unchecked)`: it is confined to one thread, and the
    // runtime's dynamic exclusivity checks on class properties cost more than the dispatch.
    let selector: Selector
    let tasks: TaskQueue
    @exclusivity(unchecked) var counters = LoopCounters()
    @exclusivity(unchecked) var runningTasks: [TaskQueue.Task] = []
    /// Closures queued on the loop's own thread (`IsolatedEventLoop.execute`): no lock and
    /// no wake-up needed, since the loop is not blocked while its own code runs.
    @exclusivity(unchecked) var localTasks: [() -> Void] = []
    @exclusivity(unchecked) var runningLocalTasks: [() -> Void] = []
    /// Jobs enqueued on the loop's own thread (the executor), run with the local tasks.
    @exclusivity(unchecked) var localJobs = TrivialBuffer<LoopJob>()
    @exclusivity(unchecked) var runningLocalJobs = TrivialBuffer<LoopJob>()
    /// Whether `localTasks` or `localJobs` holds something: one flag for the iteration to test.
    @exclusivity(unchecked) var hasLocalWork = false {
        didSet { if hasLocalWork { leavesIOOnly = true } }
    }
    /// Set when something an I/O-only iteration does not handle comes up on the loop thread:
    /// local work, a timer, time measurement, an object to release, the loop closing (see
    /// `runIterations`, behind `runIOOnly`, `runIOAndKernelTimer` and `runIOAndTimers`, which
    /// clears it when it starts). One flag, so those iterations test one byte for all of them.
    @exclusivity(unchecked) var leavesIOOnly = false
    /// Runs the jobs of the loop once it is closed (see `EventLoop+Executor`).
    let closedJobs = ClosedLoopJobs()
    /// Whether `closeRunningAcceptedTasks` is running the last accepted tasks and jobs.
    @exclusivity(unchecked) var isRunningAcceptedTasks = false
    /// Whether `closedJobs` waits for `releaseClosedJobs` (see `closeResources`).
    @exclusivity(unchecked) var closedJobsHeld = false
    /// The loop in its role as an actor's executor (see `EventLoop+Executor`).
    let serialExecutor = LoopSerialExecutor()
    /// Tasks awaiting readiness (`readable`, `writable`), made on first use.
    @exclusivity(unchecked) var waiters: ReadinessWaiters?
    /// Numbers the waiters, so a late cancellation cannot hit a later waiter.
    let waiterIDs = Atomic<UInt64>(0)
    /// The loop's standard `AsyncConnections`, made on first use.
    @exclusivity(unchecked) var standardAsyncConnections: AsyncConnections?
    /// What to do when the loop closes, per observer (a `Connections` ends its connections).
    @exclusivity(unchecked) var closeObservers: [ObjectIdentifier: () -> Void] = [:]
    /// Objects to release once no handler can be running (see `releaseWhenSafe`).
    @exclusivity(unchecked) var pendingReleases: [Unmanaged<AnyObject>] = []
    @exclusivity(unchecked) var timers = TimerQueue()
    @exclusivity(unchecked) var signals: SignalWatcher?
    /// The kernel's timer for a running loop with timers (see `EventLoop+KernelTimer`).
    @exclusivity(unchecked) var kernelTimer = KernelTimerState()
    @exclusivity(unchecked) var isRunning = false
    @exclusivity(unchecked) var measuresTime = false {
        didSet { leavesIOOnly = true }
    }
    let stopRequested = Atomic<Bool>(false)
    /// Numbers timers as they are scheduled, on any thread: equal deadlines fire in this order.
    let timerSequences = Atomic<UInt64>(0)
    let closed = Atomic<Bool>(false)
    /// The thread the loop belongs to, the one that created it, as `ThreadIdentity` numbers
    /// it (never reused, unlike a `pthread_t`).
    let ownerThread: UInt64
    /// `nil` on every real loop; a `VirtualEventLoop`'s clock otherwise.
    let virtualClock: VirtualClock?

    /// Creates a loop on `backend` (by default the platform's best, epoll on Linux), owned by
    /// the calling thread.
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
        makeKernelTimer()
    }

    /// A loop over `selector`, woken by `waker` (which the caller registers, if it has an fd),
    /// reading time from `virtualClock` if given, else from the monotonic clock.
    init(selector: Selector, waker: any Waker, virtualClock: VirtualClock?) {
        self.selector = selector
        self.tasks = TaskQueue(waker: waker)
        self.virtualClock = virtualClock
        self.ownerThread = ThreadIdentity.current
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
        serialExecutor.loop = self
    }

    deinit {
        closeResources()
        readBuffer.deallocate()
    }

    // MARK: Any thread

    /// Whether the calling thread is the loop's own.
    public var isOnLoopThread: Bool { ThreadIdentity.current == ownerThread }

    /// The loop-thread view: registrations, timers with plain closures, signals, `run`.
    ///
    /// The explicit opt-in of the threading model (SwiftNIO's `assumeIsolated()`): call it on
    /// the loop's thread (where it was created, or inside `execute`, a handler or a timer).
    /// It traps anywhere else, in release builds too, rather than let a race through.
    public func assumeIsolated(file: StaticString = #fileID, line: UInt = #line) -> IsolatedEventLoop {
        precondition(
            isOnLoopThread, "EventLoop.assumeIsolated() called off the loop's thread", file: file,
            line: line)
        return IsolatedEventLoop(self)
    }

    /// Runs `task` once on the loop thread, after the current iteration's handlers and timers.
    ///
    /// Safe from any thread, including the loop's. Tasks from one thread run in the order they
    /// were submitted. Many submissions between two iterations cost one wake-up write.
    /// - Throws: `loopClosed` once the loop is closed: the task will never run, and the
    ///   caller learns it now rather than never.
    public func execute(_ task: @escaping @Sendable () -> Void) throws(SelectorError) {
        guard tasks.submit(.closure(task)) else { throw SelectorError(.execute, fd: nil, .loopClosed) }
    }

    /// Runs `body` on the loop thread once `delay` has passed, then every `interval` if given.
    /// From any thread; see `IsolatedEventLoop.schedule(after:repeating:_:)` for the rules.
    /// On a closed loop the handle comes back inactive and `body` never runs.
    @discardableResult
    public func schedule(
        after delay: Duration, repeating interval: Duration? = nil, _ body: @escaping @Sendable () -> Void
    ) -> TimerHandle {
        schedule(at: now.advanced(by: delay), repeating: interval, body)
    }

    /// Runs `body` on the loop thread at `deadline`, then every `interval` if given. From any
    /// thread; on a closed loop the handle comes back inactive and `body` never runs. Timers
    /// with equal deadlines fire in the order they were scheduled, except that one scheduled
    /// from another thread reaches the loop with its tasks, so if it is due by then it fires
    /// at the next iteration, after the due timers the loop's own thread scheduled.
    @discardableResult
    public func schedule(
        at deadline: LoopInstant, repeating interval: Duration? = nil, _ body: @escaping @Sendable () -> Void
    ) -> TimerHandle {
        if isOnLoopThread { return scheduleOnLoop(at: deadline, repeating: interval, body) }
        let entry = TimerEntry(
            deadline: deadline.nanoseconds, interval: interval.map { max(0, $0.saturatedNanoseconds) },
            body: body)
        // Numbered now, not when the task inserts it: its place among equal deadlines is
        // the order of scheduling, whichever thread scheduled. (It joins the queue with the
        // loop's tasks, after that iteration's timers: one already due then fires at the
        // next iteration, after due timers the loop's own thread scheduled meanwhile.)
        entry.sequence = makeTimerSequence()
        let handle = TimerHandle(entry: entry, loop: self)
        do {
            try execute { [self] in insert(entry) }
        } catch {
            entry.retire(.cancelled)
        }
        return handle
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

    /// Whether the loop has been closed (by `IsolatedEventLoop.close()`, or its thread ended).
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// The loop's time: the monotonic clock (`LoopInstant.now`), or a `VirtualEventLoop`'s
    /// virtual time. Timer deadlines count on it, so compute `schedule(at:)` deadlines from it.
    public var now: LoopInstant { LoopInstant(nanoseconds: readClock()) }

    // MARK: Loop thread (through IsolatedEventLoop)

    func scheduleOnLoop(
        at deadline: LoopInstant, repeating interval: Duration?, _ body: @escaping () -> Void
    ) -> TimerHandle {
        assertOnLoopThread()
        let entry = TimerEntry(
            deadline: deadline.nanoseconds, interval: interval.map { max(0, $0.saturatedNanoseconds) },
            body: body)
        entry.sequence = makeTimerSequence()
        insert(entry)
        return TimerHandle(entry: entry, loop: self)
    }

    /// Puts a new timer in the queue, unless the loop closed or it was cancelled on the way.
    func insert(_ entry: TimerEntry) {
        guard !isClosed, entry.isScheduled else {
            entry.retire(.cancelled)
            return
        }
        timers.insert(entry)
        leavesIOOnly = true
    }

    /// Unschedules a timer: at once on the loop thread; from another thread it is marked, so
    /// it can no longer fire, and taken out of the queue by a task.
    func cancel(_ entry: TimerEntry) {
        guard entry.retire(.cancelled) else { return }
        if isOnLoopThread {
            timers.remove(entry)
        } else {
            try? execute { [self] in timers.remove(entry) }
        }
    }

    /// The next timer sequence (see `timerSequences`).
    func makeTimerSequence() -> UInt64 {
        timerSequences.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    func localExecute(_ task: @escaping () -> Void) {
        assertOnLoopThread()
        guard !isClosed else { return }
        localTasks.append(task)
        hasLocalWork = true
    }

    /// Closes the loop for good without losing a task `execute` accepted: refuses new ones
    /// (`execute` throws `loopClosed` from here on), runs those already queued, on this
    /// thread, with the loop still open, then closes it. Used when a loop's thread ends
    /// (`EventLoopThread`), where a task accepted just before the loop stopped (a
    /// `Listener.close()`, a timer scheduled from another thread) would otherwise be dropped
    /// although its submitter was told nothing.
    func closeRunningAcceptedTasks() {
        assertOnLoopThread()
        guard !isClosed else { return }
        isRunningAcceptedTasks = true
        for task in tasks.refuse() {
            switch task {
            case .closure(let body): body()
            case .job(let job): run(job)
            }
        }
        isRunningAcceptedTasks = false
        releaseClosedJobs()
        closeResources()
    }

    /// Closes the selector, the waker and the signal pipe, and drops timers and queued
    /// closures; queued jobs run (see `EventLoop+Executor`).
    func closeResources() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        leavesIOOnly = true
        // One at a time, and each taken out before it runs: one observer's work can end
        // another's object (a `Connections` released when a listener stops watching), whose
        // deinit removes its observer, which must then not run.
        while let (observer, body) = closeObservers.first {
            closeObservers[observer] = nil
            body()
        }
        signals?.close()
        signals = nil
        waiters?.closeAll()
        selector.close()
        kernelTimer.close()
        let jobs = localJobs.elements + tasks.close()
        timers.removeAll()
        localTasks = []
        localJobs.removeAll()
        hasLocalWork = false
        // Closed on the loop's thread while it runs (by a job, say an actor's, or a handler
        // or task beside jobs): that job, or the rest of the iteration, still runs here. The
        // closed loop's jobs wait for `releaseClosedJobs`, or two jobs of one serial executor
        // would run at once.
        let holding = isOnLoopThread && (isRunning || isRunningAcceptedTasks)
        closedJobsHeld = holding
        closedJobs.loopClosed(jobs, on: self, holding: holding)
        standardAsyncConnections = nil
        if !isRunning { releasePending() }
    }

    /// Runs the closed loop's jobs that `closeResources` held back, once the loop's thread has
    /// left the code that may have been running one of them (`run`, `runOnce`,
    /// `closeRunningAcceptedTasks`). Held until then rather than until the end of the batch of
    /// jobs: that needed a bracket around every batch, 13 instructions per async round trip
    /// (4,671 against 4,658); this check runs once per `run()`.
    func releaseClosedJobs() {
        guard closedJobsHeld else { return }
        closedJobsHeld = false
        closedJobs.releaseHold(on: self)
    }

    /// Runs `body` when the loop closes (at once if it is closed already), unless `observer`
    /// is removed first. Loop thread.
    func onClose(_ observer: AnyObject, _ body: @escaping () -> Void) {
        if isClosed { return body() }
        closeObservers[ObjectIdentifier(observer)] = body
    }

    func removeCloseObserver(_ observer: AnyObject) {
        closeObservers[ObjectIdentifier(observer)] = nil
    }

    /// Releases `object` once no handler can be using it: at the end of the current iteration
    /// when the loop is running (a handler may have caused this), else now.
    func releaseWhenSafe<Object: AnyObject>(_ object: Unmanaged<Object>) {
        if isRunning {
            pendingReleases.append(Unmanaged<AnyObject>.fromOpaque(object.toOpaque()))
            leavesIOOnly = true
        } else {
            object.release()
        }
    }

    func releasePending() {
        let releases = pendingReleases
        pendingReleases = []
        for object in releases { object.release() }
    }

    /// The loop's time outside an iteration (`now`, `schedule(after:)`), where one predictable
    /// branch is nothing next to the rest of the call.
    func readClock() -> Int64 {
        if let virtualClock { return virtualClock.now() }
        return MonotonicClock.now()
    }

    /// Debug builds only: traps when loop-thread state is touched from another thread. (The
    /// public way there, `assumeIsolated()`, checks in every build; this catches a view that
    /// was smuggled across threads anyway.)
    @inline(__always)
    func assertOnLoopThread(_ function: StaticString = #function) {
        assert(isOnLoopThread, "EventLoop.\(function) must be called on the loop's thread")
    }
}
