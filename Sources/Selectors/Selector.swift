internal import CSelectors

/// Watches file descriptors and reports which are ready: Python's `selectors.BaseSelector`.
///
/// ```swift
/// let selector = try DefaultSelector()
/// try selector.register(fd, events: .read) { fd, events in print("\(fd) is \(events)") }
/// for (key, events) in try selector.select(timeout: .seconds(1)) {
///     key.handler(key.fd, events)
/// }
/// ```
///
/// A selector is not thread-safe: use it from one thread at a time (an `EventLoop` owns one
/// and runs it on its thread). All bookkeeping lives here, written once; the backend only
/// translates to its system calls. Failed registrations leave nothing behind.
public final class Selector {
    /// The kernel interface this selector uses.
    public let backend: Backend

    // The mutable state below is `@exclusivity(unchecked)`: a selector is confined to one
    // thread, and the runtime's dynamic exclusivity checks on these class properties were
    // over a third of the instructions per dispatched event (measured with callgrind).
    private let kernel: any PollingBackend
    /// The first fd the backend cannot watch, read once from `kernel.descriptorLimit`, whose
    /// `Int32.max` means no limit: that is stored one above any fd, so the check stays one
    /// comparison and fd `Int32.max` itself is not refused as "too large" (the key table
    /// refuses it, for its own reason).
    private let kernelDescriptorLimit: Int
    /// `kernel.directWaitFD`, refreshed when the interest set is replaced: the wait calls the
    /// kernel itself when there is one (see `waitOnce`).
    @exclusivity(unchecked) private var directWaitFD: Int32
    @exclusivity(unchecked) private var table: KeyTable
    @exclusivity(unchecked) private var ready: UnsafeMutableBufferPointer<ReadyEvent>
    @exclusivity(unchecked) private var readyCount = 0
    /// Counts waits, so the event loop's dispatch can tell a handler selected again, and the
    /// key table which batch a registration was removed in.
    @exclusivity(unchecked) private var batch: UInt64 = 0
    /// Whether `close()` has run.
    @exclusivity(unchecked) public private(set) var isClosed = false
    @exclusivity(unchecked) private var lastTimeout: Duration?
    @exclusivity(unchecked) private var lastLimit: WaitTimeout?
    /// Set when the kernel refused to remove a registration on a backend that can keep it
    /// anyway (see `PollingBackend.mayKeepGhosts`); only then does a wait look for ghosts.
    @exclusivity(unchecked) private var mayHaveGhosts = false
    /// Whether a wait's events need a look before they are reported: ghosts may be among
    /// them (`mayHaveGhosts`), or one-shot registrations must be noted as disarmed
    /// (`tracksDisarming`). One flag, so the common wait tests one thing; set with either,
    /// cleared by `finishWait` once neither holds.
    @exclusivity(unchecked) private var checksAfterWait = false
    /// What the current batch's `ReadyKeys` views share (see `ReadyBatch`); a fresh one when a
    /// `select` finds a view of the last batch still alive. The event loop's dispatch reads
    /// the buffer itself and makes no view: its loop does not nest.
    @exclusivity(unchecked) private var viewedBatch = ReadyBatch()
    /// `kernel.mayKeepGhosts`, read once: the dispatch consults it for every stale event.
    private let kernelMayKeepGhosts: Bool
    /// `kernel.closeRemovesRegistration`, read once: a protocol witness call per closed
    /// connection otherwise.
    private let kernelCloseRemovesRegistration: Bool
    /// Set by the dispatch when it drops an event no live registration has (see
    /// `checkStaleEvents`).
    @exclusivity(unchecked) private var sawStaleEvent = false
    /// Whether `forEachReady` is calling handlers (so removed ones must stay alive until it ends).
    @exclusivity(unchecked) private var isDispatching = false
    /// Set while `releaseRetiredNow` runs (see there).
    @exclusivity(unchecked) private var isReleasingRetired = false
    @exclusivity(unchecked) private var ghostFilter = GhostFilter()
    /// Whether a wait that ends early with nothing ready is resumed for the time left: true
    /// for every kernel; false for the scripted backend, whose waits never block (its time is
    /// virtual), so resuming would spin in real time until the timeout passed.
    private let resumesEarlyWakeUps: Bool

    /// The smallest ready buffer; it grows with the number of registrations so one `select`
    /// can report every registered fd.
    private static let minimumReadyCapacity = 64

    /// Creates a selector on `backend` (`epoll_create1`, `kqueue`, or nothing for poll/select).
    public convenience init(backend: Backend = .default) throws(SelectorError) {
        self.init(backend: backend, kernel: try Platform.makeBackend(backend), resumesEarlyWakeUps: true)
    }

    /// A selector over a backend made elsewhere: a kernel's, or the scripted one (see
    /// `Selector(script:)`).
    init(backend: Backend, kernel: any PollingBackend, resumesEarlyWakeUps: Bool) {
        self.backend = backend
        self.kernel = kernel
        self.kernelDescriptorLimit =
            kernel.descriptorLimit == Int32.max ? Int(Int32.max) + 1 : Int(kernel.descriptorLimit)
        self.directWaitFD = kernel.directWaitFD
        // A kernel's fds are below the process's open-file limit, which the table reserves by
        // default; the scripted backend's are plain numbers below its own documented limit.
        self.table = KeyTable(
            reservedCount: backend == .scripted
                ? Int(kernel.descriptorLimit) : DescriptorTableReservation.count)
        self.kernelMayKeepGhosts = kernel.mayKeepGhosts
        self.kernelCloseRemovesRegistration = kernel.closeRemovesRegistration
        self.ready = Selector.allocateReady(capacity: Selector.minimumReadyCapacity)
        self.resumesEarlyWakeUps = resumesEarlyWakeUps
    }

    deinit {
        close()
    }

    /// The number of registered fds.
    public var count: Int { table.count }

    /// What the selector's backend can do: trigger modes native or emulated, regular files,
    /// the fd limit, hang-up reporting. The same as `backend.capabilities`.
    public var capabilities: BackendCapabilities { backend.capabilities }

    /// The first fd number this selector cannot watch (select where the kernel stops at
    /// `FD_SETSIZE`), or `nil` when its backend has no such limit. `register` refuses fds
    /// from here up. The same as `capabilities.descriptorLimit`.
    public var descriptorLimit: Int32? {
        kernelDescriptorLimit > Int32.max ? nil : Int32(kernelDescriptorLimit)
    }

    /// Starts watching `fd` for `events`; `handler` is what the caller (or event loop) runs.
    ///
    /// Python's `register(fileobj, events, data)`; adds the fd to the kernel's interest set
    /// (`epoll_ctl(EPOLL_CTL_ADD)`, `EV_ADD`, or the poll/select list). `trigger` chooses when
    /// readiness is reported: `.level` (the default), `.edge` or `.oneShot` (see `Trigger`).
    /// - Throws: `invalidEvents` for empty or unknown bits, `negativeDescriptor`,
    ///   `alreadyRegistered`, `descriptorTooLarge` (select where the platform stops at
    ///   `FD_SETSIZE`; see `Backend.capabilities`), or `system` when the kernel refuses the fd
    ///   (epoll and kqueue: `EBADF` for a closed fd; epoll: `EPERM` for a regular file). After a
    ///   throw the fd is not registered. poll and select keep their fd lists in user space, so
    ///   they accept a closed fd here and report it ready (as an error) at the next wait instead.
    @discardableResult
    public func register(
        _ fd: Int32, events: Events, trigger: Trigger = .level, handler: @escaping SelectorHandler
    ) throws(SelectorError) -> SelectorKey {
        try register(fd, events: events, trigger: trigger, handler: SharedHandler(handler))
    }

    /// Why `register` would refuse `fd` whatever file it names: negative, at or above the
    /// backend's limit, or beyond the key table's reservation; nil when it may be registered.
    /// For callers that must not grow a table of their own for an fd the selector would
    /// refuse anyway (the loop's readiness waiters).
    func refusal(for fd: Int32) -> SelectorError.Reason? {
        if fd < 0 { return .negativeDescriptor }
        if Int(fd) >= kernelDescriptorLimit {
            return .descriptorTooLarge(limit: Int32(kernelDescriptorLimit))
        }
        if Int(fd) >= table.reservedCount {
            return .descriptorBeyondTable(limit: Int32(clamping: table.reservedCount))
        }
        return nil
    }

    /// `register` with a handler other registrations may share: no allocation.
    @discardableResult
    public func register(
        _ fd: Int32, events: Events, trigger: Trigger = .level, handler: SharedHandler
    ) throws(SelectorError) -> SelectorKey {
        try checkOpen(.register, fd)
        try validate(.register, fd, events)
        try add(
            fd, events: events, trigger: trigger, handler: Unmanaged.passUnretained(handler), borrowed: false)
        return table.key(fd)!
    }

    /// `register` without building the key: what code that discards it calls (a key holds
    /// its handler, so making one costs a retain and a release; `Connections` registers every
    /// connection this way). The handler comes unretained, borrowed from the caller, which
    /// keeps it alive for the call: passing a strong reference read from a caller's stored
    /// property cost a retain and release around the call (callgrind: 58 instructions per
    /// connection cycle). The table takes its own reference, unless `borrowed`: the caller
    /// then keeps the handler alive until the registration is gone and no batch is running
    /// (see `KeyTable`).
    ///
    /// `events` must be a valid interest: the library's own callers pass constants, and
    /// `register` validates the user's first (callgrind: 12 instructions per connection cycle).
    /// A negative fd is refused by the table.
    func add(
        _ fd: Int32, events: Events, trigger: Trigger, handler: Unmanaged<SharedHandler>, borrowed: Bool
    ) throws(SelectorError) {
        try checkOpen(.register, fd)
        guard Int(fd) < kernelDescriptorLimit else {
            throw SelectorError(.register, fd: fd, .descriptorTooLarge(limit: Int32(kernelDescriptorLimit)))
        }
        // Into the table first, so that little stays live across the system call (callgrind:
        // 9 instructions per connection cycle); taken out again if the kernel refuses.
        let generation = try table.claim(
            fd, events: events, trigger: trigger, handler: handler, borrowed: borrowed)
        if trigger == .oneShot && kernelMayKeepGhosts { checksAfterWait = true }
        if let error = addToKernel(fd, events, trigger, ReadyEvent.token(fd: fd, generation: generation)) {
            try addRefused(fd, error)
        }
        if table.count > ready.count { growReadyBuffer() }
    }

    /// The kernel's add: through `cselectors_direct_control` where the backend has a direct
    /// wait (see `waitOnce`), otherwise the backend's. Nil, or what the kernel refused with.
    @inline(__always)
    private func addToKernel(_ fd: Int32, _ events: Events, _ trigger: Trigger, _ token: UInt64) -> Errno? {
        if directWaitFD >= 0 {
            let result = cselectors_direct_control(
                directWaitFD, 0, fd, UInt32(events.rawValue), trigger.directCode, token)
            return result == 0 ? nil : .current
        }
        do throws(Errno) {
            try kernel.add(fd: fd, events: events, trigger: trigger, token: token)
            return nil
        } catch {
            return error
        }
    }

    /// After the kernel refused to add `fd`, just claimed in the table: takes the claim back
    /// and throws, unless the refusal was a ghost's (`EEXIST` where the kernel may keep
    /// registrations): the number names a file again that the kernel still watches under it
    /// from an earlier registration whose removal it refused (see `select`). A fresh interest
    /// set drops it, the add is tried again, and the claim made again. Everything comes from
    /// the slot, so the caller keeps nothing live across its system call (callgrind: 10
    /// instructions per connection cycle).
    @inline(never)
    private func addRefused(_ fd: Int32, _ error: Errno) throws(SelectorError) {
        guard let slot = table.slot(fd), let handler = slot.handler else {
            preconditionFailure("fd \(fd) was claimed in the key table before its kernel add")
        }
        table.cancelInsert(fd)
        guard error == .fileExists && kernelMayKeepGhosts else {
            throw SelectorError(.register, fd: fd, .system(error))
        }
        do {
            try rebuildKernelInterest()
            try kernel.add(
                fd: fd, events: slot.events, trigger: slot.trigger,
                token: ReadyEvent.token(fd: fd, generation: slot.generation))
        } catch {
            throw SelectorError(.register, fd: fd, .system(error))
        }
        // The handler is alive: the caller of `add` keeps it so for the call.
        table.insert(
            fd, events: slot.events, trigger: slot.trigger, handler: handler, borrowed: slot.isBorrowed,
            generation: slot.generation)
    }

    /// Stops watching `fd` and returns the key it had.
    ///
    /// Python's `unregister(fileobj)`. Works after the caller closed the fd, or after the fd
    /// number was reused for another file: the kernel's complaint (`EBADF`, `ENOENT`) is
    /// ignored, since the bookkeeping is what the caller asked to remove and the new file
    /// must not be touched.
    /// - Throws: `notRegistered` if `fd` has no key.
    @discardableResult
    public func unregister(_ fd: Int32) throws(SelectorError) -> SelectorKey {
        try checkOpen(.unregister, fd)
        guard let key = table.key(fd) else { throw SelectorError(.unregister, fd: fd, .notRegistered) }
        remove(fd)
        return key
    }

    /// `unregister` without building the key (see `add`); false if `fd` was not registered.
    @discardableResult
    func remove(_ fd: Int32) -> Bool {
        guard let events = forget(fd) else { return false }
        // Not thrown on purpose: see `unregister`. Every backend forgets the fd even when the
        // system call fails. No events: the registration is outside the kernel already.
        if !events.isEmpty { removeFromKernel(fd, events) }
        return true
    }

    /// `remove` for an fd the caller closes right after, with nothing in between: where
    /// closing the fd ends the kernel's registration by itself (epoll, when no other
    /// descriptor keeps the file open), the system call is left out, as C servers leave out
    /// `EPOLL_CTL_DEL` (one system call fewer per connection). If another descriptor does keep
    /// the file open (a `dup`, a child forked but not yet exec'd), the registration lives on
    /// as a ghost, and its first event rebuilds the interest set without it (see
    /// `checkStaleEvents`), which the other registrations do not notice (see
    /// `rebuildKernelInterest`).
    @discardableResult
    func removeBeforeClose(_ fd: Int32) -> Bool {
        guard let events = forget(fd) else { return false }
        if !kernelCloseRemovesRegistration { removeFromKernel(fd, events) }
        return true
    }

    /// Takes `fd`'s key out of the table, noting the batch it was removed in (see
    /// `checkStaleEvents`); returns the events it watched, or nil if it had no key.
    @inline(__always)
    private func forget(_ fd: Int32) -> Events? {
        guard !isClosed else { return nil }
        return table.remove(fd, inBatch: batch)
    }

    /// Changes what `fd` waits for, and optionally its trigger and its handler; returns the
    /// new key.
    ///
    /// Python's `modify(fileobj, events, data)`. A `nil` trigger or handler keeps the current
    /// one. A change of events or trigger re-arms the registration: everything the fd is ready
    /// for is reported at the next `select`, in edge mode too. Every modify of a one-shot
    /// registration re-arms it, even with the same events. Otherwise, when only the handler
    /// changes, no system call is made. If the kernel rejects the change
    /// (`epoll_ctl(EPOLL_CTL_MOD)`, `kevent`), the fd is unregistered and the error thrown, so
    /// the table never claims an interest the kernel does not hold.
    /// - Throws: `invalidEvents`, `negativeDescriptor`, `notRegistered`, or `system`.
    @discardableResult
    public func modify(
        _ fd: Int32, events: Events, trigger: Trigger? = nil, handler: SelectorHandler? = nil
    ) throws(SelectorError) -> SelectorKey {
        try modify(fd, events: events, trigger: trigger, sharedHandler: handler.map(SharedHandler.init))
    }

    /// `modify` with a shared handler (`nil` keeps the current one).
    @discardableResult
    public func modify(
        _ fd: Int32, events: Events, trigger: Trigger? = nil, sharedHandler handler: SharedHandler?
    ) throws(SelectorError) -> SelectorKey {
        try change(fd, events: events, trigger: trigger, handler: handler)
        return table.key(fd)!
    }

    /// `modify` without building the key (see `add`).
    func change(_ fd: Int32, events: Events, trigger: Trigger? = nil, handler: SharedHandler? = nil)
        throws(SelectorError)
    {
        try checkOpen(.modify, fd)
        try validate(.modify, fd, events)
        guard let old = table.slot(fd) else { throw SelectorError(.modify, fd: fd, .notRegistered) }
        let newTrigger = trigger ?? old.trigger
        if events != old.events || newTrigger != old.trigger || newTrigger == .oneShot {
            do {
                let token = ReadyEvent.token(fd: fd, generation: old.generation)
                if old.isOutsideKernel {
                    try kernel.add(fd: fd, events: events, trigger: newTrigger, token: token)
                } else {
                    try kernel.modify(
                        fd: fd, from: Interest(events: old.events, trigger: old.trigger),
                        to: Interest(events: events, trigger: newTrigger), token: token)
                }
            } catch {
                remove(fd)
                throw SelectorError(.modify, fd: fd, .system(error))
            }
        }
        table.update(fd, events: events, trigger: newTrigger, handler: handler)
        if newTrigger == .oneShot && kernelMayKeepGhosts { checksAfterWait = true }
    }

    /// The key registered for `fd`: Python's `get_key(fileobj)`.
    /// - Throws: `notRegistered` if `fd` has no key.
    public func key(for fd: Int32) throws(SelectorError) -> SelectorKey {
        try checkOpen(.key, fd)
        guard let key = table.key(fd) else { throw SelectorError(.key, fd: fd, .notRegistered) }
        return key
    }

    /// A snapshot of every registration: Python's `get_map()`.
    public var keys: KeyMap {
        get throws(SelectorError) {
            try checkOpen(.keys, nil)
            return KeyMap(keys: table.allKeys)
        }
    }

    /// Waits until at least one registered fd is ready, or `timeout` passes.
    ///
    /// Python's `select(timeout)`, over `epoll_wait`, `poll`, `select` or `kevent`.
    /// - `nil` blocks until an event arrives.
    /// - Zero or negative checks readiness without blocking (the system call is still made).
    /// - Positive waits at least `timeout`, even on an empty selector: the duration is rounded
    ///   up to the backend's resolution, and a wait the kernel ends early, or a signal
    ///   interrupts (`EINTR`), is resumed for the remaining time. Waits longer than about
    ///   24.8 days are clamped to that.
    ///
    /// Each ready fd appears once, with the events it is ready for, masked by what its key
    /// asks for *at the moment the view yields it*. The returned view reads the selector's
    /// reusable buffer, so nothing is allocated; it skips fds that were unregistered or
    /// re-registered after the wait, so handlers may change any registration while a batch is
    /// being dispatched. A `select` made while a view of the last batch, or an iterator of one,
    /// is still alive (a handler's, say, however deeply nested) does not cut it short: the
    /// batch is copied aside for it, as Python's list would be kept, so no edge or one-shot
    /// readiness is lost to a nested call (see `ReadyBatch`). Let each view go before the next
    /// `select` (iterate it in a `for` loop) and no copy is made.
    ///
    /// Events of registrations removed before the wait never count as something to report.
    /// On epoll an fd closed while a duplicate (or a forked child) keeps its file open cannot
    /// be removed from the kernel, which goes on reporting it: when such a *ghost* shows up,
    /// the selector drops its events, rebuilds the kernel's interest set from the live
    /// registrations, and keeps waiting.
    /// - Throws: `selectorClosed`, or `system` for an unexpected kernel error (including a
    ///   failed `epoll_create1` while rebuilding the interest set, when the wait brought only
    ///   ghosts: with live events, those are returned instead. Either way the rebuild is
    ///   retried at the ghosts' next event).
    public func select(timeout: Duration? = nil) throws(SelectorError) -> ReadyKeys {
        // Converting a Duration costs 128-bit arithmetic; callers usually pass the same
        // timeout every time, so the last conversion is remembered.
        if timeout != lastTimeout {
            lastTimeout = timeout
            lastLimit = WaitTimeout(timeout)
        }
        // No handler of the last batch is running any more (see `KeyTable`). The event
        // loop's dispatch releases them itself, at the end of each batch.
        releaseRetired()
        if !isKnownUniquelyReferenced(&viewedBatch) { keepViewedBatch() }
        try select(limit: lastLimit)
        return ReadyKeys(selector: self, batch: viewedBatch)
    }

    /// Before a wait that overwrites the ready buffer: a view of the last batch is alive, so
    /// the batch is copied into what its views share, and the next batch gets a share of its
    /// own. Out of line: the callers that let their views go never come here.
    @inline(never)
    private func keepViewedBatch() {
        viewedBatch.supersede(keeping: ready[0..<readyCount])
        viewedBatch = ReadyBatch()
    }

    /// `select(timeout:)` for callers that already hold nanoseconds (the event loop), which
    /// skips the `Duration` arithmetic. Without `resuming`, a wait that ends with nothing to
    /// report (a signal, or only ghosts) returns at once, with no event: for a caller that
    /// waits again anyway, and so need not have the clock read before each wait to know how
    /// long is left (the event loop's `run()`).
    // Inlined into the event loop's iteration: one frame fewer per wait, 28 instructions per
    // echo round trip (callgrind). It makes no view: the loop dispatches with `forEachReady`.
    @inline(__always)
    func select(limit: WaitTimeout?, resuming: Bool = true) throws(SelectorError) {
        try checkOpen(.select, nil)
        batch &+= 1
        let deadline =
            resuming ? limit.map { $0.nanoseconds > 0 ? MonotonicClock.now() + $0.nanoseconds : 0 } : nil
        try waitOnce(limit: limit)
        // The common case, something ready and no ghosts possible, stays in this short body;
        // the rest (ghosts, a wait to resume) is out of line. Splitting it off shrank the
        // function's frame and saved 20 instructions per echo round trip (callgrind).
        if readyCount == 0 || checksAfterWait {
            try finishWait(limit: limit, deadline: deadline, resuming: resuming)
        }
    }

    @inline(__always)
    private func waitOnce(limit: WaitTimeout?) throws(SelectorError) {
        if directWaitFD >= 0 {
            let count = cselectors_direct_wait(
                directWaitFD, ready.baseAddress, Int32(truncatingIfNeeded: ready.count),
                limit?.milliseconds ?? -1)
            readyCount = Int(count)
            if count < 0 { try waitFailed(.current) }
            return
        }
        do {
            readyCount = try kernel.wait(timeout: limit, into: ready)
        } catch {
            try waitFailed(error)
        }
    }

    /// Whether the one-shot registrations a wait reports must be noted as disarmed: where
    /// the interest set may be rebuilt, while any is registered.
    private var tracksDisarming: Bool { kernelMayKeepGhosts && table.oneShotCount > 0 }

    /// Notes which one-shot registrations the kernel just reported, and so disarmed: a rebuilt
    /// interest set must not arm them again (see `rebuildKernelInterest`).
    private func noteDisarmedOneShots() {
        for index in 0..<readyCount {
            table.noteReported(ready[index].fd, generation: ready[index].generation)
        }
    }

    /// A failed wait, direct or the backend's. A signal is not an event: nothing is ready, and
    /// `finishWait` resumes the wait for the time left, if any. Out of line.
    @inline(never)
    private func waitFailed(_ error: Errno) throws(SelectorError) {
        readyCount = 0
        if error != .interrupted { throw SelectorError(.select, fd: nil, .system(error)) }
    }

    /// After a wait that may have nothing to report (after a signal or dropped ghosts): drops
    /// ghosts, then, when `resuming`, resumes a wait without a timeout, and a bounded one for
    /// the time left.
    @inline(never)
    private func finishWait(limit initialLimit: WaitTimeout?, deadline: Int64?, resuming: Bool)
        throws(SelectorError)
    {
        var limit = initialLimit
        defer { if !mayHaveGhosts && !tracksDisarming { checksAfterWait = false } }
        while true {
            if readyCount > 0 {
                // Noted first: a rebuild, which a ghost causes, must know them.
                if tracksDisarming { noteDisarmedOneShots() }
                if mayHaveGhosts { try exorciseGhosts() }
            }
            guard readyCount == 0, resuming, resumesEarlyWakeUps else { return }
            guard let deadline else {
                try waitOnce(limit: nil)
                continue
            }
            guard deadline > 0 else { return }
            let remaining = deadline - MonotonicClock.now()
            guard remaining > 0 else { return }
            limit = WaitTimeout(nanoseconds: remaining)
            try waitOnce(limit: limit)
        }
    }

    /// Calls `body` with each live ready key of the last `select`, resolved as `ReadyKeys`
    /// resolves them; returns how many ran. The event loop's dispatch: unlike iterating
    /// `ReadyKeys`, it holds no extra reference to the selector.
    ///
    /// Each handler is called without a retain (see `KeyTable`): handlers removed during the
    /// batch stay alive until it ends.
    @inline(__always)
    func forEachReady() -> Int {
        let expected = batch
        var index = 0
        var dispatched = 0
        isDispatching = true
        defer { isDispatching = false }
        while expected == batch, index < readyCount {
            let event = ready[index]
            index += 1
            guard let slot = table.slot(event.fd), slot.generation == event.generation else {
                sawStaleEvent = true
                continue
            }
            let events = event.events.intersection(slot.events)
            guard !events.isEmpty, let handler = slot.handler else { continue }
            Unretained(handler).with { $0.run(event.fd, events) }
            dispatched &+= 1
        }
        if sawStaleEvent { checkStaleEvents(of: expected) }
        releaseRetired()
        return dispatched
    }

    /// After a dispatch that dropped a stale event: an event no live registration has now is
    /// one removed during the dispatch, or a ghost's. Every removal before the wait happened
    /// before it, so an fd not removed during this dispatch was removed before the wait and
    /// the kernel still reports it: a ghost (see `removeBeforeClose`). The interest set is
    /// rebuilt at once, so a ghost wakes the loop this once, in edge mode too. A rebuild that
    /// fails (no descriptor left for a new epoll instance) is tried again at the ghost's next
    /// event; the loop goes on. Out of line, and the dispatch only sets a flag: a call in its
    /// loop cost every round trip 12 instructions (callgrind).
    @inline(never)
    private func checkStaleEvents(of dispatched: UInt64) {
        sawStaleEvent = false
        // A handler that called `select` replaced the batch: its events are not these.
        guard kernelMayKeepGhosts, dispatched == batch else { return }
        for index in 0..<readyCount {
            let event = ready[index]
            if let slot = table.slot(event.fd), slot.generation == event.generation { continue }
            if table.wasRemoved(event.fd, inBatch: dispatched) { continue }
            try? rebuildKernelInterest()
            return
        }
    }

    /// Releases the handlers unregistered or replaced since the last wait, unless one may be
    /// running: for the event loop, whose handlers run only inside `forEachReady`, so that a
    /// handler that captured the loop and was unregistered between iterations does not keep
    /// the loop alive (and its fds open) until a next wait that may never come. A caller of
    /// `select` may be running a handler from `ReadyKeys` itself, so `unregister` keeps them.
    func releaseRetiredHandlers() {
        if !isDispatching { releaseRetired() }
    }

    /// Releases the retired handlers. Only when none can be running.
    @inline(__always)
    private func releaseRetired() {
        if table.hasRetired && !isReleasingRetired { releaseRetiredNow() }
    }

    /// A release can run a deinit that unregisters another fd (or closes the selector), which
    /// retires more handlers and may ask for a release again: that nested call returns at
    /// once, and this loop releases what it retired too, until none is left.
    @inline(never)
    private func releaseRetiredNow() {
        isReleasingRetired = true
        while let handler = table.popRetired() { handler.release() }
        isReleasingRetired = false
    }

    /// Releases the kernel resources and forgets every registration. Calling it again does
    /// nothing; every other operation on a closed selector throws `selectorClosed`.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        kernel.close()
        // Its number may name another file from now on.
        directWaitFD = -1
        // Retired, and released now only if no handler can be running: one may be the one
        // closing the selector.
        table.removeAll()
        releaseRetiredHandlers()
        readyCount = 0
        Selector.deallocateReady(ready)
        ready = UnsafeMutableBufferPointer(start: nil, count: 0)
    }

    /// The ready event at `index` of the batch `viewed` is shared by, resolved against the
    /// current key table: `nil` when the batch is over (or the selector closed), `.some(nil)`
    /// when the event is stale. A batch a later `select` superseded is read from its copy.
    @inline(__always)
    func resolve(_ index: Int, of viewed: ReadyBatch) -> (key: SelectorKey, events: Events)?? {
        guard viewed.isSuperseded else {
            guard index < readyCount else { return nil }
            return resolve(ready[index])
        }
        guard !isClosed, let event = viewed.event(index) else { return nil }
        return resolve(event)
    }

    @inline(__always)
    private func resolve(_ event: ReadyEvent) -> (key: SelectorKey, events: Events)?? {
        guard let slot = table.slot(event.fd), slot.generation == event.generation else { return .some(nil) }
        let events = event.events.intersection(slot.events)
        return events.isEmpty ? .some(nil) : (SelectorKey(fd: event.fd, slot: slot), events)
    }

    /// Tells the backend to stop watching `fd`, ignoring its complaint (the fd may already be
    /// closed or reused) but remembering it when the kernel could keep the registration.
    private func removeFromKernel(_ fd: Int32, _ events: Events) {
        do {
            try kernel.remove(fd: fd, events: events)
        } catch {
            if kernelMayKeepGhosts {
                mayHaveGhosts = true
                checksAfterWait = true
            }
        }
    }

    /// Drops the ghosts' events from the wait that just returned (see `GhostFilter`) and, if
    /// there were any, rebuilds the kernel's interest set from the live keys, so the ghosts
    /// stop waking the process. That happens at most once per refused removal, since a fresh
    /// set holds no ghost until another removal fails.
    ///
    /// A rebuild that fails (no descriptor left for a new epoll instance) leaves the ghosts in
    /// place, and `mayHaveGhosts` set, so it is tried again at their next event. The wait's
    /// live events are still reported: the kernel will not report an edge or a one-shot
    /// readiness among them again, so a throw would lose them. The error is thrown only when
    /// the wait brought nothing else, and so loses nothing (and a blocking `select` does not
    /// spin on a ghost it cannot drop).
    private func exorciseGhosts() throws(SelectorError) {
        let (kept, foundGhost) = ghostFilter.filter(ready, count: readyCount, table: table)
        guard foundGhost else { return }
        readyCount = kept
        do {
            try rebuildKernelInterest()
        } catch {
            if kept == 0 { throw SelectorError(.select, fd: nil, .system(error)) }
        }
    }

    /// A fresh kernel interest set holding exactly the live keys.
    private func rebuildKernelInterest() throws(Errno) {
        try kernel.replaceInterestSet()
        directWaitFD = kernel.directWaitFD
        mayHaveGhosts = false
        for key in table.allKeys {
            // A disarmed one-shot registration stays out, as the kernel had it: an add would
            // arm it, and it would report again without the `modify` its owner has not made
            // yet (a worker may still hold its fd). Its next `modify` adds it.
            if table.leavesOutOfRebuiltKernel(key.fd) { continue }
            // An fd the caller closed without unregistering cannot be added again. Its key
            // stays, so `unregister` still works; the kernel no longer reports it, as epoll
            // does not report a closed fd whose file has no other descriptor either. (If the
            // number already names another file, that file is watched under the old key until
            // `unregister`: the caller closed an fd it had not unregistered, and the kernel
            // cannot tell the two files apart by number.)
            try? kernel.add(
                fd: key.fd, events: key.events, trigger: key.trigger,
                token: ReadyEvent.token(fd: key.fd, generation: key.generation))
        }
    }

    private func checkOpen(_ operation: SelectorError.Operation, _ fd: Int32?) throws(SelectorError) {
        if isClosed { throw SelectorError(operation, fd: fd, .selectorClosed) }
    }

    // The checks inline, the error out of line (with `KeyTable.retire` split the same way,
    // 39 instructions per connect-echo-close cycle, callgrind).
    @inline(__always)
    private func validate(_ operation: SelectorError.Operation, _ fd: Int32, _ events: Events)
        throws(SelectorError)
    {
        if !events.isValidInterest || fd < 0 { try refuse(operation, fd, events) }
    }

    @inline(never)
    private func refuse(_ operation: SelectorError.Operation, _ fd: Int32, _ events: Events)
        throws(SelectorError)
    {
        guard events.isValidInterest else { throw SelectorError(operation, fd: fd, .invalidEvents(events)) }
        throw SelectorError(operation, fd: fd, .negativeDescriptor)
    }

    /// Grows the ready buffer with the registrations, so one wait can report every fd. Done
    /// when a registration needs it rather than before each wait (7 instructions per echo
    /// round trip, callgrind); the events of the current batch move along, so a handler that
    /// registers fds while the batch is being dispatched, or while the caller iterates its
    /// `ReadyKeys`, changes nothing for the rest of it.
    @inline(never)
    private func growReadyBuffer() {
        let grown = Selector.allocateReady(capacity: max(table.count, ready.count * 2))
        if readyCount > 0 {
            _ = grown.initialize(fromContentsOf: ready[0..<readyCount])
        }
        Selector.deallocateReady(ready)
        ready = grown
    }

    /// Ready buffers live in pages of their own (see `PageBuffer`): they grow with the
    /// registrations, and an outgrown one the kernel wrote into would stay resident on the heap.
    private static func allocateReady(capacity: Int) -> UnsafeMutableBufferPointer<ReadyEvent> {
        UnsafeMutableBufferPointer(
            start: PageBuffer.allocate(ReadyEvent.self, count: capacity), count: capacity)
    }

    private static func deallocateReady(_ buffer: UnsafeMutableBufferPointer<ReadyEvent>) {
        PageBuffer.deallocate(buffer.baseAddress!, count: buffer.count)
    }
}

/// `DefaultSelector()` creates a selector on the best backend of the platform: epoll on
/// Linux, kqueue on Apple and BSD systems (see `Backend.default`).
public typealias DefaultSelector = Selector
