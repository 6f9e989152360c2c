internal import CSelectors

/// The loop's iteration, as plainly as libuv's `uv_run`: wait, dispatch I/O, run due timers,
/// run tasks. Reached through `IsolatedEventLoop.run()` and `runOnce(timeout:)`.
extension EventLoop {
    /// Runs iterations until `stop()` (or until a handler closes the loop).
    func run() throws(SelectorError) {
        if virtualClock != nil { throw SelectorError(.run, fd: nil, .virtualLoop) }
        try enter()
        defer { leave() }
        // A handler may close the loop; run() then returns like after stop().
        while !isClosed && !takeStopRequest() {
            if measuresTime || hasLocalWork {
                try iterate(limit: nil, honoringStop: true, clock: MonotonicLoopClock())
            } else if timers.count == 0 {
                try runIOOnly()
            } else if kernelTimer.timer != nil {
                try runIOAndKernelTimer()
            } else {
                try runIOAndTimers()
            }
        }
    }

    /// Runs one iteration, waiting at most `timeout` (nil: until something happens).
    func runOnce(timeout: Duration?) throws(SelectorError) {
        try enter()
        defer { leave() }
        let limit = WaitTimeout(timeout)?.nanoseconds
        if let virtualClock {
            try iterate(limit: limit, honoringStop: false, clock: virtualClock)
        } else {
            try iterate(limit: limit, honoringStop: false, clock: MonotonicLoopClock())
        }
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
    ///
    /// Inlined into `run()`'s loop, with `waitTimeout`, so an iteration pays no call and no
    /// frame set-up of its own: 36 instructions per echo round trip (callgrind).
    @inline(__always)
    private func iterate<Clock: LoopClock>(limit: Int64?, honoringStop: Bool, clock: Clock)
        throws(SelectorError)
    {
        let timed = timers.count > 0
        let start = timed || measuresTime ? clock.now() : 0
        let stopping = honoringStop && stopRequested.load(ordering: .acquiring)
        let busy = stopping || hasLocalWork
        try selector.select(
            limit: busy ? WaitTimeout(nanoseconds: 0) : waitTimeout(now: start, limit: limit))
        let standsStill = Clock.standsStillDuringIterations
        let woke = timed || measuresTime || standsStill ? clock.now() : 0

        let dispatched = selector.forEachReady()
        // Timers use the time the wait ended: one that falls due while handlers run fires on
        // the next iteration, whose wait is then zero. Late by one pass, never early. A timer
        // first scheduled by a handler of this iteration waits for the next one too, except on
        // a virtual clock, where it is due at `woke` already (see `VirtualEventLoop`).
        if (timed || standsStill && timers.count > 0) && timers.hasDue(at: woke) { runDueTimers(now: woke) }
        // The loop's own tasks first: they were queued by its earlier work.
        if hasLocalWork { runLocalTasks() }
        if tasks.mayHaveTasks { runTasks() }

        if !pendingReleases.isEmpty { releasePending() }
        counters.iterations &+= 1
        counters.eventsDispatched &+= UInt64(truncatingIfNeeded: dispatched)
        if measuresTime {
            counters.waitNanoseconds &+= woke - start
            counters.workNanoseconds &+= clock.now() - woke
        }
    }

    /// Iterations for the common case of a running server, until something else is needed
    /// (`leavesIOOnly`: local work, time measurement, a new timer, an object to release), a
    /// stop is requested or the loop is closed: no timer is scheduled, so the wait has no
    /// timeout and no clock is read. A loop of its own, so `iterate`'s clock readings and
    /// timeout (live across its wait and dispatch) cost this body no registers, and what it
    /// tests per iteration is two flags. Together about 60 instructions per echo round trip
    /// (callgrind; BENCHMARKS.md section 17).
    private func runIOOnly() throws(SelectorError) {
        try runIterations(.none)
    }

    /// The same iterations with timers scheduled (a server with an idle timeout), where the
    /// platform has a kernel timer: it is armed with the earliest deadline, so the wait still
    /// has no timeout, and the clock is read only when the timer fires. What an iteration
    /// adds is one comparison with the armed deadline (callgrind: echo round trips with an idle
    /// timeout cost what those without one do; BENCHMARKS.md section 20).
    private func runIOAndKernelTimer() throws(SelectorError) {
        try runIterations(.kernelTimer)
    }

    /// The same iterations with timers scheduled and no kernel timer: the clock is read once
    /// per iteration, when the wait ends. That reading says which timers are due, and the
    /// next wait's timeout is counted from it too, so a timer can be late by the time one
    /// iteration's work (handlers, timers, tasks) took, never early. Reading the clock before each wait as well,
    /// in `iterate`, cost 65 instructions more per echo round trip (callgrind, echo-server
    /// --idle-timeout; BENCHMARKS.md section 20).
    private func runIOAndTimers() throws(SelectorError) {
        try runIterations(.timedWait)
    }

    /// How the lean iterations learn that a timer is due.
    private enum LeanTimers {
        /// No timer is scheduled.
        case none
        /// The kernel timer fires (`EventLoop+KernelTimer`).
        case kernelTimer
        /// Each wait is timed to the earliest deadline.
        case timedWait
    }

    /// The body of all three, specialised by the constant `timing`.
    @inline(__always)
    private func runIterations(_ timing: LeanTimers) throws(SelectorError) {
        leavesIOOnly = false
        var woke: Int64 = timing == .timedWait ? MonotonicClock.now() : 0
        repeat {
            // A timer the kernel refused to arm would leave the wait without an end.
            if timing == .kernelTimer && !armKernelTimer() { break }
            // An early wake-up ends the iteration, and the next wait is counted from `woke`.
            try selector.select(
                limit: timing == .timedWait ? untilNextTimer(now: woke) : nil, resuming: false)
            if timing == .timedWait { woke = MonotonicClock.now() }
            let dispatched = selector.forEachReady()
            // As in `iterate`: timers due when the wait ended, so one that falls due while the
            // handlers run fires on the next iteration.
            if timing == .timedWait && timers.hasDue(at: woke) { runDueTimers(now: woke) }
            if timing == .kernelTimer && kernelTimer.fired { runTimersAfterKernelTimer() }
            // Only local work can have made `hasLocalWork` true, and it set the flag.
            if leavesIOOnly && hasLocalWork { runLocalTasks() }
            counters.iterations &+= 1
            counters.eventsDispatched &+= UInt64(truncatingIfNeeded: dispatched)
            // A stop is looked for only here: `stop()` sets the flag before it wakes the loop,
            // so a requested stop always finds `mayHaveTasks` set (or sets it again after
            // `runTasks` took it, with the stop then visible).
            if tasks.mayHaveTasks {
                runTasks()
                if stopRequested.load(ordering: .relaxed) { break }
            }
        } while !leavesIOOnly
        if !pendingReleases.isEmpty { releasePending() }
    }

    /// Until the next timer, capped by `limit`. Pending tasks need no special case: their
    /// wake-up left the waker readable, so the wait returns at once.
    @inline(__always)
    private func waitTimeout(now: Int64, limit: Int64?) -> WaitTimeout? {
        let untilTimer = untilNextTimer(now: now)
        guard let limit else { return untilTimer }
        return WaitTimeout(nanoseconds: min(limit, untilTimer?.nanoseconds ?? limit))
    }

    /// Until the next timer; nil when none is scheduled.
    // Out of line, though it is small: inlined, it took `runIOAndTimers` past the optimizer's
    // size limit for inlining into one function, and the dispatch was left out of line
    // instead (callgrind: 5 instructions per echo round trip with an idle timeout, and the
    // dispatch's own frame; `waitTimeout` out of line, with its `limit`, cost 17 more).
    @inline(never)
    private func untilNextTimer(now: Int64) -> WaitTimeout? {
        guard let next = timers.first else { return nil }
        return WaitTimeout(nanoseconds: next.deadline.subtractingSaturating(now))
    }

    /// Runs the timers due at `now`, as one batch. Timers scheduled while the batch runs (a
    /// timer re-arming itself with no delay, say) wait for the next iteration, so they cannot
    /// keep the loop from polling I/O. A timer another thread cancelled is skipped.
    func runDueTimers(now: Int64) {
        let batchEnd = timerSequences.load(ordering: .relaxed)
        while let entry = timers.first, entry.deadline <= now, entry.sequence < batchEnd {
            timers.remove(entry)
            let body = entry.body
            if let interval = entry.interval {
                guard entry.isScheduled else { continue }
                let next = entry.deadline.addingSaturating(interval)
                entry.deadline = next > now ? next : now.addingSaturating(interval)
                // A fresh sequence puts the re-armed timer outside this batch.
                entry.sequence = makeTimerSequence()
                timers.insert(entry)
            } else {
                entry.body = nil
                // Loses to a cancel from another thread that came first.
                guard entry.retire(.fired) else { continue }
            }
            counters.timersFired &+= 1
            body?()
        }
    }

    private func runTasks() {
        tasks.take(into: &runningTasks)
        guard !runningTasks.isEmpty else { return }
        for task in runningTasks {
            switch task {
            case .closure(let body): body()
            case .job(let job): run(job)
            }
        }
        counters.tasksRun &+= UInt64(runningTasks.count)
        runningTasks.removeAll(keepingCapacity: true)
    }

    /// Runs the tasks and jobs the loop's own code queued before this point; what they queue
    /// waits for the next iteration (whose wait is then zero), so a task that re-queues itself
    /// cannot starve I/O.
    private func runLocalTasks() {
        hasLocalWork = false
        if !localJobs.isEmpty {
            localJobs.swapContents(with: &runningLocalJobs)
            for index in 0..<runningLocalJobs.count { run(runningLocalJobs[index]) }
            counters.tasksRun &+= UInt64(runningLocalJobs.count)
            runningLocalJobs.removeAll()
        }
        if !localTasks.isEmpty {
            swap(&localTasks, &runningLocalTasks)
            for task in runningLocalTasks { task() }
            counters.tasksRun &+= UInt64(runningLocalTasks.count)
            runningLocalTasks.removeAll(keepingCapacity: true)
        }
    }

    /// Consumes a pending `stop()`. A plain load first: the locked exchange is only needed
    /// when a stop is actually pending, not on every iteration.
    @inline(__always)
    private func takeStopRequest() -> Bool {
        stopRequested.load(ordering: .relaxed)
            && stopRequested.exchange(false, ordering: .acquiringAndReleasing)
    }

    private func enter() throws(SelectorError) {
        guard !isClosed else { throw SelectorError(.run, fd: nil, .loopClosed) }
        precondition(isOnLoopThread, "EventLoop.run() called off the loop's thread")
        // The tasks a loop thread runs at its end (`closeRunningAcceptedTasks`) run outside
        // `run()`, but a `run()` of theirs could never be stopped: the queue refuses the wake-up.
        guard !isRunning && !isRunningAcceptedTasks else {
            throw SelectorError(
                .run, fd: nil,
                .invalidArgument(
                    "the loop is already running: run() and runOnce() are not reentrant "
                        + "(called from one of its own handlers, tasks or timers)"))
        }
        isRunning = true
    }

    private func leave() {
        isRunning = false
        releaseClosedJobs()
    }

    // MARK: For VirtualEventLoop

    /// The earliest timer deadline, if any timer is scheduled.
    var nextTimerDeadline: Int64? { timers.first?.deadline }

    /// The earliest timer deadline later than `instant`, if any.
    func timerDeadline(after instant: Int64) -> Int64? { timers.earliestDeadline(after: instant) }

    /// Whether `execute` (or `stop`, or `wakeUp`) left something for the next iteration.
    var hasQueuedTasks: Bool { tasks.mayHaveTasks || hasLocalWork }

    /// Whether `stop()` was called and no `run()` has consumed it yet.
    var isStopRequested: Bool { stopRequested.load(ordering: .acquiring) }
}
