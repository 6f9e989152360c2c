internal import CSelectors
import Selectors
import Synchronization

/// One event loop of an echo server: its listener, its connections and its counters.
///
/// Everything but `counters` belongs to the loop thread; other threads reach a worker only
/// through `loop.execute`. All connections share one handler closure, registered with each
/// fd, so a connection costs no closure allocation; the closure looks the fd up in
/// `connections`.
///
/// With `configuration.trigger == .edge` the listener and every connection are registered
/// edge-triggered, and the edge handler consumes each readiness to the end, as the mode
/// requires: it reads until `EAGAIN` (or end of stream, or the high-water mark, whose pause
/// and resume change the interest and so re-arm it), writes pending output until it is gone
/// or `EAGAIN`, and accepts until `EAGAIN`. The level handler is a separate closure, so level
/// mode pays nothing for edge mode.
final class EchoWorker: @unchecked Sendable {
    // @unchecked: the mutable state is confined to the loop thread (see above); `counters`
    // and `limit` are atomics, the rest is immutable.

    let loop: EventLoop
    let counters = EchoCounters()
    let index: Int

    private let configuration: EchoServer.Configuration
    /// Open connections over all workers, shared for `maxConnections`; `nil` without a limit.
    private let limit: ConnectionLimit?
    /// Output buffer memory over all workers, for `totalHighWaterMark`.
    private let budget: PendingBudget
    private let readBuffer: UnsafeMutableRawBufferPointer
    private let highWaterMark: Int
    private let lowWaterMark: Int
    /// The most one connection's pending output can hold: the high-water mark plus one read.
    private let outputCapacityLimit: Int
    // `Events.read` and `.write` live in another module, so each use is a call to their
    // lazy-global accessor; copies in the worker are plain loads on the hot path.
    private let readEvent = Events.read
    private let writeEvent = Events.write

    /// The server's listening socket, shared with the other loops; `listener` is its fd
    /// while this loop holds it, -1 once it let go.
    private let sharedListener: SharedListener
    @exclusivity(unchecked) private var listener: Int32
    /// For `TCP keepalive` on accepted connections; 0: off.
    private let keepAliveSeconds: Int32
    /// Set by the first loop that logs a registration refused for the backend's fd limit.
    private let descriptorLimitNotice: OnceFlag
    // Rate limits for the notices that can repeat quickly.
    @exclusivity(unchecked) private var rejectionNotices = NoticeLimiter()
    @exclusivity(unchecked) private var pauseNotices = NoticeLimiter()
    @exclusivity(unchecked) private var idleNotices = NoticeLimiter()
    @exclusivity(unchecked) private var registrationNotices = NoticeLimiter()
    @exclusivity(unchecked) private var connections = ConnectionTable()
    @exclusivity(unchecked) private var openCount = 0
    @exclusivity(unchecked) private var connectionHandler: SelectorHandler = { _, _ in }
    @exclusivity(unchecked) private var acceptHandler: SelectorHandler = { _, _ in }
    /// The idle timeout in milliseconds, and the instant the sweep's clock counts from.
    @exclusivity(unchecked) private var idleMilliseconds: UInt32 = 0
    private let clockOrigin = LoopInstant.now
    /// Pauses in a row since the last successful accept, to log only the first.
    @exclusivity(unchecked) private var consecutivePauses = 0
    @exclusivity(unchecked) private var acceptRetry: TimerHandle?
    /// Edge mode: the zero-delay timer that goes on accepting after a full batch.
    @exclusivity(unchecked) private var acceptContinuation: TimerHandle?
    /// Set by `receive` when a read would block: the edge handler reads until then.
    @exclusivity(unchecked) private var readWouldBlock = false
    @exclusivity(unchecked) private var drainDeadline: TimerHandle?
    @exclusivity(unchecked) private var idleSweep: TimerHandle?
    @exclusivity(unchecked) private var isDraining = false
    @exclusivity(unchecked) private var isFinished = false
    /// Whether some connection may carry `.budgetPaused` (so a resume has work to do).
    @exclusivity(unchecked) private var hasBudgetPaused = false
    /// Bytes of output buffers freed since the heap was last trimmed, and the pending trim.
    @exclusivity(unchecked) private var freedSinceTrim = 0
    @exclusivity(unchecked) private var memoryTrim: TimerHandle?
    /// While draining: resets connections whose dropped input was noticed once the client
    /// has everything that was echoed.
    @exclusivity(unchecked) private var drainTicker: TimerHandle?

    init(
        index: Int, loop: EventLoop, listener: SharedListener, configuration: EchoServer.Configuration,
        limit: ConnectionLimit?, descriptorLimitNotice: OnceFlag, budget: PendingBudget
    ) {
        self.index = index
        self.loop = loop
        listener.hold()
        self.sharedListener = listener
        self.listener = listener.fd
        self.descriptorLimitNotice = descriptorLimitNotice
        // Whole seconds; validated to 1...32767.
        self.keepAliveSeconds = configuration.keepAlive.map { Int32($0.components.seconds) } ?? 0
        self.configuration = configuration
        self.limit = limit
        self.budget = budget
        self.readBuffer = loop.readBuffer
        self.highWaterMark = configuration.highWaterMark
        self.lowWaterMark = configuration.lowWaterMark
        self.outputCapacityLimit = configuration.highWaterMark + loop.readBuffer.count
    }

    /// Registers the listener and the idle sweep; called before the loop's thread starts.
    func prepare() throws(SelectorError) {
        // The worker outlives its loop's registrations (the loop is closed before the worker
        // goes), so the handlers borrow it without retaining: an `unowned(unsafe)` capture
        // still costs a retain/release pair per call, `_withUnsafeGuaranteedRef` does not.
        let worker = Unmanaged.passUnretained(self)
        switch configuration.trigger {
        case .edge:
            connectionHandler = { fd, events in
                worker._withUnsafeGuaranteedRef { $0.connectionReadyUntilWouldBlock(fd, events) }
            }
        default:
            connectionHandler = { fd, events in
                worker._withUnsafeGuaranteedRef { $0.connectionReady(fd, events) }
            }
        }
        acceptHandler = { _, _ in worker._withUnsafeGuaranteedRef { $0.acceptReady() } }
        try loop.register(listener, events: .read, trigger: configuration.trigger, handler: acceptHandler)
        if let idleTimeout = configuration.idleTimeout {
            // Sweep four times per timeout (at most once a second, at least every 10 ms); see
            // `sweepIdle` for why a connection is never closed early.
            let period = min(max(idleTimeout / 4, .milliseconds(10)), .seconds(1))
            // Compared as durations first: the arithmetic below would overflow (and trap) for a
            // timeout beyond about 9e15 seconds, which the public configuration accepts.
            if idleTimeout >= .milliseconds(Int64(UInt32.max)) {
                idleMilliseconds = .max
            } else {
                let (seconds, attoseconds) = idleTimeout.components
                let milliseconds =
                    seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
                idleMilliseconds = UInt32(clamping: milliseconds)
            }
            idleSweep = loop.schedule(after: period, repeating: period) { [unowned(unsafe) self] in
                self.sweepIdle()
            }
        }
    }

    /// The thread body: runs the loop until the server finishes, then releases everything.
    func run() -> SelectorError? {
        var failure: SelectorError?
        do {
            try loop.run()
        } catch {
            failure = error
            log("event loop \(index) failed: \(error)")
        }
        finish()
        loop.close()
        return failure
    }

    deinit {
        connections.deallocate()
    }

    // MARK: Accepting

    /// Accepts up to `acceptBatch` connections, so a flood of them cannot starve the open
    /// ones. A full batch in edge mode has not seen `EAGAIN`, and the listener will not be
    /// reported again for the connections still queued, so a zero-delay timer goes on after
    /// this iteration's handlers have run.
    private func acceptReady() {
        var remaining = configuration.acceptBatch
        while remaining > 0 {
            remaining -= 1
            let fd: Int32
            do {
                guard let accepted = try Socket.accept(listener) else { return }
                fd = accepted
            } catch {
                acceptFailed(error)
                return
            }
            if consecutivePauses > 0 {
                log("accepting again after \(consecutivePauses) pause(s)")
                consecutivePauses = 0
            }
            admit(fd)
        }
        // Only a full batch gets here (EAGAIN and errors return above), so level mode pays
        // for none of this per connection: an earlier version that cleared the timer handle
        // on every call cost each connect-echo-close cycle about 40 instructions.
        if configuration.trigger == .edge { continueAcceptingSoon() }
    }

    private func continueAcceptingSoon() {
        guard acceptContinuation == nil, listener >= 0, !isDraining else { return }
        acceptContinuation = loop.schedule(after: .zero) { [unowned(unsafe) self] in
            self.acceptContinuation = nil
            self.acceptReady()
        }
    }

    private func admit(_ fd: Int32) {
        if let limit, !limit.reserve() {
            counters.rejected.bump()
            Socket.close(fd)
            if configuration.log != nil, let count = rejectionNotices.record() {
                log(
                    "rejected \(count) connection\(count == 1 ? "" : "s"): "
                        + "\(configuration.maxConnections ?? 0) open already (the maximum)")
            }
            return
        }
        if keepAliveSeconds > 0 {
            // A connection that cannot be given keepalive is still served.
            try? Socket.setKeepAlive(fd, idleSeconds: keepAliveSeconds)
        }
        let connection = connections.slot(for: fd)
        connection.pointee = Connection(lastActivity: Connection.activeNow, flags: .open)
        do {
            try loop.register(fd, events: .read, trigger: configuration.trigger, handler: connectionHandler)
        } catch {
            connection.pointee.flags = []
            Socket.close(fd)
            limit?.release()
            counters.registrationErrors.bump()
            registrationRefused(fd, error)
            return
        }
        openCount += 1
        counters.accepted.bump()
        counters.active.bump()
    }

    /// The selector would not watch an accepted connection (it was closed). The select
    /// backend's fd limit is logged once per server, as it will recur for every fd above it.
    private func registrationRefused(_ fd: Int32, _ error: SelectorError) {
        guard configuration.log != nil else { return }
        if case .descriptorTooLarge(let limit) = error.reason {
            if descriptorLimitNotice.claim() {
                log(
                    "the \(loop.backend) backend cannot watch fd \(fd) or any other from \(limit) up; "
                        + "connections on such descriptors are closed at once (counted as registration "
                        + "errors; logged only once): use epoll or poll, or lower the open-files limit")
            }
        } else if let count = registrationNotices.record() {
            log("closed \(count) accepted connection\(count == 1 ? "" : "s") the selector refused: \(error)")
        }
    }

    /// Out of descriptors (or another accept failure): the connection stays queued, so
    /// accepting again at once would spin. Stop watching the listener and retry on a timer.
    private func acceptFailed(_ error: Errno) {
        let exhausted = error == .tooManyOpenFiles || error == .tooManyOpenFilesInSystem
        if exhausted {
            counters.descriptorExhaustion.bump()
        } else {
            counters.acceptErrors.bump()
        }
        counters.acceptPauses.bump()
        consecutivePauses += 1
        if consecutivePauses == 1 {
            let reason = exhausted ? "out of file descriptors" : "accept failed"
            log("\(reason): \(error); pausing accepts, retrying every \(configuration.acceptRetryDelay)")
        }
        _ = try? loop.unregister(listener)
        acceptRetry = loop.schedule(after: configuration.acceptRetryDelay) { [unowned(unsafe) self] in
            self.acceptRetry = nil
            self.resumeAccepting()
        }
    }

    private func resumeAccepting() {
        guard listener >= 0, !isDraining else { return }
        do {
            try loop.register(listener, events: .read, trigger: configuration.trigger, handler: acceptHandler)
        } catch {
            log("cannot watch the listener again: \(error); stopping this loop")
            finish()
        }
    }

    /// Stops watching the shared listener and lets go of it (the last loop closes it).
    private func closeListener() {
        acceptRetry?.cancel()
        acceptRetry = nil
        acceptContinuation?.cancel()
        acceptContinuation = nil
        guard listener >= 0 else { return }
        // Fails harmlessly while accepting is paused (not registered then).
        _ = try? loop.unregister(listener)
        listener = -1
        sharedListener.release()
    }

    // MARK: Connections

    /// The one handler all connections share.
    @inline(__always)
    private func connectionReady(_ fd: Int32, _ events: Events) {
        let connection = connections[fd]
        if events.contains(writeEvent) {
            guard flush(fd, connection) else { return }
        }
        if events.contains(readEvent) {
            receive(fd, connection)
        }
    }

    /// The edge-mode handler: each readiness is consumed until the system call would block.
    private func connectionReadyUntilWouldBlock(_ fd: Int32, _ events: Events) {
        let connection = connections[fd]
        if events.contains(writeEvent) {
            while true {
                guard let more = flushOnce(fd, connection) else { return }
                if !more { break }
            }
        }
        if events.contains(readEvent) {
            // `receive` notes `EAGAIN` in `readWouldBlock` rather than returning it: a result
            // the level handler ignores still cost it 28 instructions per round trip
            // (callgrind, `count.sh epoll rr`), as `receive` was no longer inlined there.
            readWouldBlock = false
            while true {
                receive(fd, connection)
                let flags = connection.pointee.flags
                if readWouldBlock || !flags.contains(.open) || flags.contains(.peerClosed)
                    || flags.contains(.readPaused)
                {
                    return
                }
            }
        }
    }

    /// Reads once into the loop's buffer and writes it straight back; only what the kernel
    /// does not take is copied to the connection's pending output. Sets `readWouldBlock` when
    /// the read would block (for the edge handler, which reads until then).
    @inline(__always)
    private func receive(_ fd: Int32, _ connection: UnsafeMutablePointer<Connection>) {
        // Above the server-wide budget nobody reads (draining connections discard what they
        // read, so they may).
        if budget.isOverLimit.load(ordering: .relaxed) && !connection.pointee.flags.contains(.draining) {
            pauseForBudget(fd, connection)
            return
        }
        let count: Int
        do {
            guard let read = try Socket.read(fd, into: readBuffer) else {
                readWouldBlock = true
                return
            }
            count = read
        } catch {
            fail(fd, error)
            return
        }
        guard count > 0 else {
            peerClosed(fd, connection)
            return
        }
        counters.bytesReceived.bump(by: count)
        connection.pointee.lastActivity = Connection.activeNow
        // Shutting down: input is no longer echoed, only read so the close is orderly; the
        // connection will end with a reset, since its client's bytes were dropped.
        if connection.pointee.flags.contains(.draining) {
            connection.pointee.flags.insert(.inputDropped)
            return
        }

        var input = UnsafeRawBufferPointer(start: readBuffer.baseAddress, count: count)
        let wasIdle = connection.pointee.output == nil
        if wasIdle {
            let written: Int
            do {
                written = try Socket.write(fd, from: input) ?? 0
            } catch {
                fail(fd, error)
                return
            }
            counters.bytesEchoed.bump(by: written)
            if written == count { return }
            input = UnsafeRawBufferPointer(rebasing: input[written...])
        }
        let allocated = connection.pointee.outputAllocationSize
        guard connection.pointee.append(input, capacityLimit: outputCapacityLimit) else {
            counters.otherErrors.bump()
            close(fd)
            return
        }
        let grown = connection.pointee.outputAllocationSize - allocated
        if grown > 0 {
            counters.outputBufferBytes.bump(by: grown)
            budget.add(grown)
        }
        let pending = connection.pointee.pendingCount
        counters.pendingBytes.bump(by: input.count)
        counters.peakPendingBytes.raise(to: pending)
        if pending > highWaterMark {
            // Resuming changes the interest again, which re-arms an edge registration.
            connection.pointee.flags.insert(.readPaused)
            counters.readPauses.bump()
            pausedReading()
        } else if !wasIdle {
            return  // already watching for .read and .write
        }
        updateInterest(fd, connection)
    }

    /// Writes pending output. Returns false if the connection was closed.
    @inline(__always)
    private func flush(_ fd: Int32, _ connection: UnsafeMutablePointer<Connection>) -> Bool {
        flushOnce(fd, connection) != nil
    }

    /// Writes pending output with one `send`. Returns `nil` if the connection was closed,
    /// `true` if the kernel took part and the rest is still pending (so another write may take
    /// more; edge mode writes until it does not), `false` when nothing is left or the write
    /// would block.
    @inline(__always)
    private func flushOnce(_ fd: Int32, _ connection: UnsafeMutablePointer<Connection>) -> Bool? {
        let pending = connection.pointee.pending
        guard pending.count > 0 else { return false }
        let written: Int
        do {
            written = try Socket.write(fd, from: pending) ?? 0
        } catch {
            fail(fd, error)
            return nil
        }
        guard written > 0 else { return false }
        counters.bytesEchoed.bump(by: written)
        counters.pendingBytes.bump(by: -written)
        connection.pointee.lastActivity = Connection.activeNow
        if written < pending.count {
            connection.pointee.consume(written)
            let flags = connection.pointee.flags
            if flags.contains(.readPaused) && pending.count - written <= lowWaterMark {
                connection.pointee.flags.remove(.readPaused)
                return updateInterest(fd, connection) ? true : nil
            }
            return true
        }
        freeOutput(connection)
        connection.pointee.flags.remove(.readPaused)
        let flags = connection.pointee.flags
        // Draining with input dropped: the drain ticker resets it once the client has it all.
        if flags.contains(.inputDropped) { return updateInterest(fd, connection) }
        if flags.contains(.peerClosed) {
            counters.closedByClient.bump()
            close(fd)
            return nil
        }
        if flags.contains(.draining) { sendEndOfStream(fd, connection) }
        return updateInterest(fd, connection) ? false : nil
    }

    /// The client sent end of stream: close once everything pending is written.
    private func peerClosed(_ fd: Int32, _ connection: UnsafeMutablePointer<Connection>) {
        if connection.pointee.output == nil && !connection.pointee.flags.contains(.inputDropped) {
            counters.closedByClient.bump()
            close(fd)
        } else {
            // Pending output goes first; a draining connection that dropped input is reset
            // by the drain ticker once the client's kernel has everything echoed.
            connection.pointee.flags.insert(.peerClosed)
            updateInterest(fd, connection)
        }
    }

    /// Read unless the client ended its side or too much is pending (here or server-wide);
    /// write while anything is pending. With neither (reading paused by the budget, nothing
    /// pending), the connection is taken off the loop until the budget lets it read again.
    @discardableResult
    private func updateInterest(_ fd: Int32, _ connection: UnsafeMutablePointer<Connection>) -> Bool {
        var events: Events = []
        let flags = connection.pointee.flags
        if !flags.contains(.peerClosed) && !flags.contains(.readPaused) && !flags.contains(.budgetPaused) {
            events.insert(.read)
        }
        if connection.pointee.output != nil { events.insert(.write) }
        do {
            if events.isEmpty {
                if !flags.contains(.unwatched) {
                    try loop.unregister(fd)
                    connection.pointee.flags.insert(.unwatched)
                }
            } else if flags.contains(.unwatched) {
                try loop.register(fd, events: events, handler: connectionHandler)
                connection.pointee.flags.remove(.unwatched)
            } else {
                // No system call when the interest is unchanged.
                try loop.modify(fd, events: events)
            }
            return true
        } catch {
            counters.otherErrors.bump()
            close(fd)
            return false
        }
    }

    /// A read or write failed: resets and broken pipes are a client's normal way to leave.
    private func fail(_ fd: Int32, _ error: Errno) {
        switch error {
        case .connectionReset: counters.resets.bump()
        case .brokenPipe: counters.brokenPipes.bump()
        default: counters.otherErrors.bump()
        }
        close(fd, abortIfDataLost: false)
    }

    /// Closes a connection the server gives up on (idle, shut down, stopped): unread input
    /// counts as dropped, so it ends with a reset if anything is lost. (Linux resets a socket
    /// closed with unread input by itself; asking first keeps the count right everywhere.)
    private func closeDiscarding(_ fd: Int32) {
        let connection = connections[fd]
        if !connection.pointee.flags.contains(.inputDropped), let unread = try? Socket.unreadByteCount(fd),
            unread > 0
        {
            connection.pointee.flags.insert(.inputDropped)
        }
        close(fd)
    }

    // MARK: Memory

    /// Frees a connection's output buffer; once nothing is pending on this loop after a
    /// burst of at least `trimThreshold` freed bytes, gives the heap's free pages back to the
    /// system a little later (glibc keeps freed memory otherwise: an echo server's RSS stayed
    /// near its peak long after a burst of never-reading clients ended).
    private func freeOutput(_ connection: UnsafeMutablePointer<Connection>) {
        let allocated = connection.pointee.outputAllocationSize
        counters.outputBufferBytes.bump(by: -allocated)
        budget.subtract(allocated)
        freedSinceTrim += allocated
        connection.pointee.releaseOutput()
        guard configuration.releasesMemoryWhenIdle, freedSinceTrim >= EchoWorker.trimThreshold,
            memoryTrim == nil, !isFinished, counters.pendingBytes.load(ordering: .relaxed) == 0
        else { return }
        memoryTrim = loop.schedule(after: EchoWorker.trimDelay) { [unowned(unsafe) self] in
            self.memoryTrim = nil
            // Busy again: the next idle moment trims instead.
            guard self.counters.pendingBytes.load(ordering: .relaxed) == 0 else { return }
            self.freedSinceTrim = 0
            self.counters.memoryTrims.bump()
            cselectors_release_free_memory()
        }
    }

    /// Freed output worth trimming for: smaller amounts stay in malloc's free lists for reuse.
    static let trimThreshold = 1 << 20
    /// How long the loop must stay without pending output before the trim: bursts that
    /// follow each other closely reuse the memory instead.
    static let trimDelay: Duration = .milliseconds(250)

    // MARK: The server-wide budget

    /// Stops reading from this connection until the budget has drained (`resumeAfterBudget`).
    private func pauseForBudget(_ fd: Int32, _ connection: UnsafeMutablePointer<Connection>) {
        connection.pointee.flags.insert(.budgetPaused)
        hasBudgetPaused = true
        updateInterest(fd, connection)
    }

    /// The budget has drained: every connection paused by it reads again. Loop thread (the
    /// budget posts it with `execute`).
    func resumeAfterBudget() {
        guard hasBudgetPaused, !isFinished else { return }
        hasBudgetPaused = false
        guard connections.highestFD >= 0 else { return }
        for fd in 0...connections.highestFD {
            let connection = connections[fd]
            let flags = connection.pointee.flags
            guard flags.contains(.open), flags.contains(.budgetPaused) else { continue }
            connection.pointee.flags.remove(.budgetPaused)
            updateInterest(fd, connection)
        }
    }

    /// Closes the connection. If bytes are lost with it (output still pending, or input that
    /// was dropped), the close is a reset (`SO_LINGER` 0), so the client cannot mistake being
    /// cut off for an orderly end; `abortIfDataLost: false` after the connection failed anyway.
    private func close(_ fd: Int32, abortIfDataLost: Bool = true) {
        let connection = connections[fd]
        let flags = connection.pointee.flags
        guard flags.contains(.open) else { return }
        // The key may already be gone if `modify` failed, or never be there (`.unwatched`).
        _ = try? loop.unregister(fd)
        if connection.pointee.output != nil || flags.contains(.inputDropped) {
            if abortIfDataLost {
                try? Socket.setLinger0(fd)
                counters.aborted.bump()
            }
            if connection.pointee.output != nil {
                let pending = connection.pointee.pendingCount
                counters.pendingBytes.bump(by: -pending)
                freeOutput(connection)
            }
        }
        connection.pointee.flags = []
        // Counted before the close, so a client that sees the end of stream sees the count.
        counters.active.bump(by: -1)
        openCount -= 1
        limit?.release()
        Socket.close(fd)
        if isDraining && openCount == 0 { finish() }
    }

    // MARK: Idle connections

    /// Progress only marks a connection (`Connection.activeNow`, a constant store: no clock
    /// read per event); the sweep replaces the mark with the sweep's time. The progress came
    /// before that time, so measuring idleness from it can only make a close late, never early,
    /// however late the sweeps run. A close comes between `idleTimeout` and `idleTimeout` plus
    /// two sweep periods after the last progress.
    private func sweepIdle() {
        let milliseconds = LoopInstant.now.nanoseconds.subtractingReportingOverflow(clockOrigin.nanoseconds)
        // Milliseconds (rounded down) since the worker started, wrapping after 49 days; the
        // mark value itself is skipped.
        var now = UInt32(truncatingIfNeeded: milliseconds.partialValue / 1_000_000)
        if now == Connection.activeNow { now &-= 1 }
        guard connections.highestFD >= 0 else { return }
        var closed = 0
        defer {
            if closed > 0, configuration.log != nil, let count = idleNotices.record(closed) {
                log(
                    "closed \(count) idle connection\(count == 1 ? "" : "s") "
                        + "(no progress for \(configuration.idleTimeout ?? .zero))")
            }
        }
        for fd in 0...connections.highestFD {
            let connection = connections[fd]
            guard connection.pointee.flags.contains(.open) else { continue }
            let last = connection.pointee.lastActivity
            if last == Connection.activeNow {
                connection.pointee.lastActivity = now
            } else if now &- last > idleMilliseconds {
                // Both times are rounded down, so a strict `>` is needed for the real gap
                // to be at least `idleTimeout`.
                counters.idleClosed.bump()
                closed += 1
                closeDiscarding(fd)
            }
        }
    }

    // MARK: Shutting down

    /// Stops accepting; flushes every connection's pending output, then ends it, waiting
    /// (and discarding input) for the client to close. A connection whose every byte was
    /// echoed gets a half-close (FIN) and an orderly close. One whose input is being dropped
    /// (unread when the output was flushed, or arriving later) is reset instead, once the
    /// client's kernel has acknowledged all the echoed data, so nothing echoed is destroyed
    /// and the client still learns it was cut off. Whatever is left at `deadline` is closed
    /// (reset if anything is lost). Loop thread.
    func beginDrain(until deadline: LoopInstant) {
        guard !isDraining, !isFinished else { return }
        isDraining = true
        closeListener()
        idleSweep?.cancel()
        idleSweep = nil
        if connections.highestFD >= 0 {
            for fd in 0...connections.highestFD {
                let connection = connections[fd]
                guard connection.pointee.flags.contains(.open) else { continue }
                connection.pointee.flags.insert(.draining)
                connection.pointee.flags.remove([.readPaused, .budgetPaused])
                if connection.pointee.output == nil {
                    if connection.pointee.flags.contains(.peerClosed) {
                        close(fd)
                        continue
                    }
                    sendEndOfStream(fd, connection)
                }
                updateInterest(fd, connection)
            }
        }
        if openCount == 0 {
            finish()
        } else {
            drainDeadline = loop.schedule(at: deadline) { [unowned(unsafe) self] in self.finish() }
            drainTicker = loop.schedule(after: EchoWorker.drainTick, repeating: EchoWorker.drainTick) {
                [unowned(unsafe) self] in self.resetFlushedConnectionsThatDroppedInput()
            }
        }
    }

    /// How often a drain looks for connections to reset.
    static let drainTick: Duration = .milliseconds(10)

    /// Everything pending was written: half-close, unless input is being dropped, which
    /// ends the connection with a reset instead (see `beginDrain`).
    private func sendEndOfStream(_ fd: Int32, _ connection: UnsafeMutablePointer<Connection>) {
        let flags = connection.pointee.flags
        guard !flags.contains(.finSent), !flags.contains(.inputDropped) else { return }
        if let unread = try? Socket.unreadByteCount(fd), unread > 0 {
            connection.pointee.flags.insert(.inputDropped)
            return
        }
        connection.pointee.flags.insert(.finSent)
        try? Socket.shutdownWrite(fd)
    }

    /// Resets each drained connection that dropped input once its client's kernel holds
    /// everything echoed (nothing unacknowledged), so the reset destroys none of it.
    private func resetFlushedConnectionsThatDroppedInput() {
        guard connections.highestFD >= 0 else { return }
        for fd in 0...connections.highestFD {
            let connection = connections[fd]
            let flags = connection.pointee.flags
            guard flags.contains(.open), flags.contains(.inputDropped), connection.pointee.output == nil
            else { continue }
            if let unacknowledged = try? Socket.unacknowledgedByteCount(fd), unacknowledged > 0 { continue }
            close(fd)
        }
    }

    /// Closes the listener and every connection and stops the loop. Idempotent; loop thread
    /// (or after the loop stopped).
    func finish() {
        guard !isFinished else { return }
        isFinished = true
        isDraining = false
        closeListener()
        for timer in [idleSweep, drainDeadline, drainTicker, memoryTrim] { timer?.cancel() }
        idleSweep = nil
        drainDeadline = nil
        drainTicker = nil
        memoryTrim = nil
        if connections.highestFD >= 0 {
            for fd in 0...connections.highestFD where connections[fd].pointee.flags.contains(.open) {
                closeDiscarding(fd)
            }
        }
        loop.stop()
    }

    /// Backpressure: a connection stopped reading. Out of line, so the echo path that
    /// inlines `receive` grows by one call in a branch it rarely takes.
    @inline(never)
    private func pausedReading() {
        guard configuration.log != nil, let count = pauseNotices.record() else { return }
        log(
            "backpressure: paused reading \(count) time\(count == 1 ? "" : "s"): a client had more than "
                + "\(highWaterMark) bytes waiting to be sent to it (reading resumes at \(lowWaterMark))")
    }

    private func log(_ message: String) {
        configuration.log?(message)
    }
}

/// The open-connection count shared by all workers when `maxConnections` is set.
final class ConnectionLimit: Sendable {
    private let open = Atomic<Int>(0)
    private let maximum: Int

    init(maximum: Int) { self.maximum = maximum }

    /// Takes a slot; false if all `maximum` are taken.
    func reserve() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue <= maximum { return true }
        open.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }
}
