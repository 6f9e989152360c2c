internal import CSelectors

/// The timers and shared state around the connections: idle timeouts, the shared output
/// budget, and giving memory back.
extension Connections {
    // MARK: Idle connections

    /// Sweeps four times per timeout (at most once a second, at least every 10 ms); see
    /// `sweepIdle` for why a connection is never closed early.
    func startIdleSweep() {
        guard let idleTimeout = options.idleTimeout else { return }
        let period = min(max(idleTimeout / 4, .milliseconds(10)), .seconds(1))
        // Compared as durations first: the arithmetic below would overflow (and trap) for a
        // timeout beyond about 9e15 seconds.
        if idleTimeout >= .milliseconds(Int64(UInt32.max)) {
            idleMilliseconds = .max
        } else {
            let (seconds, attoseconds) = idleTimeout.components
            let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
            idleMilliseconds = UInt32(clamping: milliseconds)
        }
        // Unretained: `deinit` cancels it. Not weak: a weak reference gives an object a side
        // table, and every retain and release of it then takes the runtime's slow path.
        idleSweep = loop.schedule(after: period, repeating: period) { [unowned(unsafe) self] in sweepIdle() }
    }

    /// Progress only marks a connection (`ConnectionSlot.activeNow`, a constant store: no clock
    /// read per event); the sweep replaces the mark with the sweep's time. The progress came
    /// before that time, so measuring idleness from it can only make a close late, never early,
    /// however late the sweeps run. A close comes between `idleTimeout` and `idleTimeout` plus
    /// two sweep periods after the last progress.
    ///
    /// A connection the server keeps from reading (`isHeldByServer`) stays marked, so it does
    /// not age while held, and its clock starts at the first sweep after it is let go: from a
    /// time after the resume, so that close too is never early. One due to close with output
    /// queued is flushed first (`flushedBeforeIdleClose`).
    private func sweepIdle() {
        let elapsed = loop.now.nanoseconds.subtractingReportingOverflow(clockOrigin.nanoseconds)
        // Milliseconds (rounded down) since the start, wrapping after 49 days; the mark value
        // itself is skipped.
        var now = UInt32(truncatingIfNeeded: elapsed.partialValue / 1_000_000)
        if now == ConnectionSlot.activeNow { now &-= 1 }
        guard slots.highestFD >= 0 else { return }
        for fd in 0...slots.highestFD {
            let slot = slots[fd]
            guard slot.pointee.flags.contains(.open) else { continue }
            let last = slot.pointee.lastActivity
            if Connections.isHeldByServer(slot) {
                slot.pointee.lastActivity = ConnectionSlot.activeNow
            } else if last == ConnectionSlot.activeNow {
                slot.pointee.lastActivity = now
            } else if now &- last > idleMilliseconds, !flushedBeforeIdleClose(fd, slot) {
                // Both times are rounded down, so a strict `>` is needed for the real gap
                // to be at least `idleTimeout`.
                end(fd, slot, .idle, checkingUnread: true)
            }
        }
    }

    /// Whether the connection makes no progress only because this side keeps it from
    /// reading: the shared budget paused it (for other connections' buffers, not its own
    /// doing), or its owner did (`pauseReading()`: a server waiting on a backend, a proxy
    /// waiting for the other side to drain; the owner holds it, and can close it itself), and
    /// it has nothing queued. With output queued it is not held: the queue not moving is its
    /// peer's doing, and such connections (clients that never read) are the ones whose buffers
    /// keep the budget over its mark, which the timeout must still be able to send away. After
    /// the peer's end of stream nothing is left to read, so nothing is held either.
    private static func isHeldByServer(_ slot: UnsafeMutablePointer<ConnectionSlot>) -> Bool {
        let flags = slot.pointee.flags
        return !flags.isDisjoint(with: [.budgetPaused, .ownerPaused]) && !flags.contains(.peerClosed)
            && slot.pointee.output == nil
    }

    /// Before a connection with output queued is closed as idle: one more flush (edge mode:
    /// until the kernel takes no more), counted as progress if it writes anything. Writes are
    /// tried only when the kernel reports the fd writable, which for a large send buffer
    /// (TCP's grows to megabytes) comes only once a good part of it has drained (a third, on
    /// Linux): with a peer reading steadily, that can be longer than the timeout. A peer that
    /// read made room, so the flush writes; one that stopped reading left the buffer full, and
    /// the flush writes nothing (`EAGAIN`). Cheaper than tracking the kernel's unsent count
    /// (`SIOCOUTQ`) per sweep: no system call for connections that are not due to close, no
    /// state in the slot, and it works for pipes and ptys too. Returns true if the connection
    /// is not to be closed: it made progress, or the flush ended it.
    private func flushedBeforeIdleClose(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>) -> Bool {
        // A failed connection closes with its error at the next turn: no more writing.
        guard slot.pointee.output != nil, !slot.pointee.flags.contains(.failed) else { return false }
        let generation = slot.pointee.generation
        while let more = flushOnce(fd, slot), more, trigger == .edge {}
        // The flush may have ended it (a failure, a requested close now done), or a handler it
        // called (`.outputDrained`) may have.
        guard slot.pointee.flags.contains(.open), slot.pointee.generation == generation else { return true }
        return slot.pointee.lastActivity == ConnectionSlot.activeNow
    }

    // MARK: The shared budget

    /// Has the budget tell this loop when reading may resume everywhere.
    func watchBudget() {
        guard let budget = options.budget else { return }
        let token = ConnectionsToken(self)
        budgetToken = token
        let bound = LoopBound(token, on: loop.eventLoop)
        budgetCallback = budget.onResume { [weak eventLoop = loop.eventLoop] in
            try? eventLoop?.execute { bound.value.connections?.resumeAfterBudget() }
        }
    }

    /// Stops reading from this connection until the budget has drained.
    func pauseForBudget(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>) {
        slot.pointee.flags.insert(.budgetPaused)
        hasBudgetPaused = true
        updateInterest(fd, slot)
    }

    /// The budget has drained: every connection it paused reads again.
    private func resumeAfterBudget() {
        guard hasBudgetPaused else { return }
        hasBudgetPaused = false
        guard slots.highestFD >= 0 else { return }
        for fd in 0...slots.highestFD {
            let slot = slots[fd]
            let flags = slot.pointee.flags
            guard flags.contains(.open), flags.contains(.budgetPaused) else { continue }
            slot.pointee.flags.remove(.budgetPaused)
            updateInterest(fd, slot)
            // Pulling: the task waiting to read tries again.
            if pulls, slot.pointee.flags.contains(.readWaiting) {
                endReadWait(fd, slot)?.resume()
            }
        }
    }

    // MARK: Memory

    /// Frees a connection's queue buffer. With `releasesMemoryWhenIdle`, once nothing is
    /// queued after a burst of at least `trimThreshold` freed bytes, the heap's free pages go
    /// back to the system a little later (glibc keeps freed memory otherwise: an echo
    /// server's resident size stayed near its peak long after a burst of never-reading
    /// clients ended).
    func releaseOutput(_ slot: UnsafeMutablePointer<ConnectionSlot>) {
        let allocated = slot.pointee.outputAllocationSize
        counters.outputBufferBytes.bump(by: -allocated)
        options.budget?.subtract(allocated)
        slot.pointee.releaseOutput()
        guard options.releasesMemoryWhenIdle else { return }
        freedSinceTrim += allocated
        guard freedSinceTrim >= Connections.trimThreshold, memoryTrim == nil,
            counters.pendingBytes.load(ordering: .relaxed) == 0
        else { return }
        memoryTrim = loop.schedule(after: Connections.trimDelay) { [unowned(unsafe) self] in
            memoryTrim = nil
            // Busy again: the next idle moment trims instead.
            guard counters.pendingBytes.load(ordering: .relaxed) == 0 else { return }
            freedSinceTrim = 0
            counters.memoryTrims.bump()
            cselectors_release_free_memory()
        }
    }

    /// Freed memory worth trimming for: smaller amounts stay in malloc's free lists for reuse.
    static let trimThreshold = 1 << 20
    /// How long nothing may be queued before the trim: bursts that follow each other closely
    /// reuse the memory instead.
    static let trimDelay: Duration = .milliseconds(250)
}

/// How the budget's resume callbacks, which outlive it, reach a `Connections` without keeping
/// it alive: its `deinit` clears the reference. (Not `weak`: see `startIdleSweep`.)
final class ConnectionsToken {
    unowned(unsafe) var connections: Connections?
    init(_ connections: Connections) { self.connections = connections }
}
