/// What a loop keeps of its kernel timer (`KernelTimer`): made with the loop, armed with the
/// earliest deadline before a wait of `run()`'s whenever that is earlier than the one it
/// holds, and heard through a registration like any fd.
///
/// Made with the loop rather than at the first timer, so that the fds a loop holds do not
/// change as it runs (a server's count when idle is the same before and after its first
/// client). Arming only for an earlier deadline keeps the common changes free: a timer
/// scheduled after the earliest (a new connection's timeout, say) or cancelled needs no system
/// call; a cancelled earliest timer costs one early wake-up, which finds nothing due and arms
/// the next.
struct KernelTimerState {
    /// Nil where the platform has none, when making or registering it failed, once the loop
    /// closed, and when switched off (`EventLoop.usesKernelTimer`): the loop then times its
    /// waits instead.
    var timer: (any KernelTimer)?
    /// The deadline the timer is armed with; `Int64.max`: none (it fired, or never armed).
    var deadline = Int64.max
    /// Set when the timer fired: some timer may be due.
    var fired = false

    mutating func close() {
        timer?.close()
        timer = nil
        deadline = .max
        fired = false
    }
}

extension EventLoop {
    /// Whether `run()`'s lean timed iterations use a kernel timer (`runIOAndKernelTimer`)
    /// rather than time their waits (`runIOAndTimers`). On where the platform has one; tests
    /// switch it off to run the other path. Loop thread.
    package var usesKernelTimer: Bool {
        get { kernelTimer.timer != nil }
        set {
            assertOnLoopThread()
            if newValue {
                if kernelTimer.timer == nil && !isClosed { makeKernelTimer() }
            } else {
                dropKernelTimer()
            }
        }
    }

    /// Makes and registers the kernel timer; without one (none on this platform, out of
    /// descriptors, ...) the loop still runs its timers, by timing its waits.
    func makeKernelTimer() {
        guard let timer = try? Platform.makeKernelTimer() else { return }
        do {
            try selector.register(timer.readFD, events: .read) { [unowned(unsafe) self] _, _ in
                kernelTimerFired()
            }
        } catch {
            timer.close()
            return
        }
        kernelTimer.timer = timer
    }

    /// Arms the timer with the earliest deadline if it holds a later one (or none). False if
    /// the kernel refused (the timer is then given up): the loop must not wait without a
    /// timeout.
    @inline(__always)
    func armKernelTimer() -> Bool {
        guard let earliest = timers.first?.deadline, earliest < kernelTimer.deadline else { return true }
        return arm(at: earliest)
    }

    @inline(never)
    private func arm(at deadline: Int64) -> Bool {
        guard let timer = kernelTimer.timer, timer.arm(at: deadline) else {
            dropKernelTimer()
            return false
        }
        kernelTimer.deadline = deadline
        return true
    }

    private func kernelTimerFired() {
        kernelTimer.timer?.drain()
        kernelTimer.deadline = .max
        kernelTimer.fired = true
    }

    /// After the kernel timer fired: the timers due now.
    @inline(never)
    func runTimersAfterKernelTimer() {
        kernelTimer.fired = false
        runDueTimers(now: MonotonicClock.now())
    }

    /// Unregisters and closes the timer; the loop times its waits from here on.
    private func dropKernelTimer() {
        if let timer = kernelTimer.timer, !isClosed {
            _ = try? selector.unregister(timer.readFD)
            selector.releaseRetiredHandlers()
        }
        kernelTimer.close()
    }
}
