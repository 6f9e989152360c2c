internal import CSelectors

/// Buffered stream connections on one loop: libuv's `uv_stream` and asyncio's transports, for
/// any stream fd (TCP, Unix-domain sockets, pipes, ptys).
///
/// ```swift
/// let clients = try Connections(loop: io) { connection, event in
///     switch event {
///     case .received(let bytes): try? connection.write(bytes)   // echo
///     case .closed(let end): print("\(connection) ended: \(end)")
///     default: break
///     }
/// }
/// let connection = try clients.adopt(fd)   // fd: accepted, connected, a pipe, ...
/// ```
///
/// What it does for each connection, so its handler need not:
/// - **Reading** into the loop's shared buffer (no buffer per connection), reported as
///   `.received`; end of stream as `.endOfInput`.
/// - **Writing** at once: `write` sends straight away and queues only what the kernel did not
///   take; `.write` is watched only while something is queued.
/// - **Backpressure**: above `highWaterMark` queued bytes the handler hears `.outputFull` (and,
///   with `pausesReadingWhenFull`, the connection stops reading: what an echo or a proxy
///   wants), and `.outputDrained` at `lowWaterMark`. A queue's buffer never grows past the
///   high mark plus one read while reading is what fills it.
/// - **Closing**: `close()` after the queue is written, `shutdownOutput()` for a half-close,
///   `abort()` at once; closing with data lost resets the connection, so the peer can tell it
///   was cut off. Every connection ends with exactly one `.closed(ConnectionEnd)`, which says
///   how: no decoding of hang-up bits.
/// - Optionally an **idle timeout**, a memory **budget** shared with other loops, a graceful
///   **drain** for shutdown, and giving freed memory back to the system.
///
/// Per connection it keeps 24 bytes in an fd-indexed table, plus the queue while there is one.
/// All connections share one registered handler, so adopting one allocates nothing. The
/// A `Connections` that has adopted a connection stays alive until its loop closes, which
/// ends whatever is still open (`.closed(.aborted)`). Loop thread only.
public final class Connections {
    /// How connections are buffered and watched.
    public struct Options: Sendable {
        /// Above this many queued output bytes a connection is "full": `.outputFull`.
        public var highWaterMark = 256 * 1024
        /// At or below this many, a full connection is drained again: `.outputDrained`.
        public var lowWaterMark = 64 * 1024
        /// Whether a full connection stops reading until it is drained, so input that would
        /// only add to its output (an echo, a proxy) cannot grow the queue without bound.
        public var pausesReadingWhenFull = true
        /// Whether a connection stays open for writing after its peer ended its side, until the
        /// owner closes it or ends its own side (`shutdownOutput()`: nothing can pass either
        /// way then, and it closes by itself). Off: it closes by itself once its queue is
        /// written. Either way the end is `.closed(.peerClosed)`.
        public var halfClose = false
        /// Connections with no read or write progress for this long are closed
        /// (`.closed(.idle)`, with a reset if data is lost). `nil`: never.
        ///
        /// One with output queued is flushed once more first, and stays if the kernel takes
        /// anything: a peer reading a large queue steadily is not idle, even when the kernel
        /// reports the socket writable only far apart. Time spent with reading stopped by this
        /// side, by the `budget` or by `Connection.pauseReading()`, with nothing queued does not
        /// count: the peer may be sending all along. Its clock starts again once reading
        /// resumes. A connection held with output queued still ages, as its queue not moving is
        /// its peer's doing (a client that never reads, holding the budget).
        public var idleTimeout: Duration? = nil
        /// `.level` (the default) or `.edge`: each readiness is then consumed until `EAGAIN`.
        public var trigger: Trigger = .level
        /// A cap on the output buffers of this and other `Connections` together (see
        /// `OutputBudget`); `nil`: none.
        public var budget: OutputBudget? = nil
        /// Give freed output buffers back to the system (`malloc_trim(0)` with glibc) once
        /// nothing has been queued for a moment after a burst; otherwise the allocator keeps
        /// them and the resident size stays near its peak.
        public var releasesMemoryWhenIdle = false

        /// The defaults: 256 KiB / 64 KiB water marks, reading paused when full, no half-close,
        /// no idle timeout, level-triggered.
        public init() {}
    }

    /// The loop the connections are served on.
    public let loop: IsolatedEventLoop
    /// The options, as given.
    public let options: Options
    /// `options.budget`, kept apart so the read path reaches it in one load.
    let budget: OutputBudget?
    /// The loop's selector, for the key-less registration calls.
    let selector: Selector
    /// Whether tasks read (`AsyncConnection`) rather than the loop.
    let pulls: Bool
    /// How connections are registered: `options.trigger`, or what pulling needs.
    let trigger: Trigger
    /// Whether a connection stays open after its peer's end of stream: `options.halfClose`,
    /// and always when pulling (the reading task decides).
    let halfClose: Bool
    /// Pulling: the tasks waiting on each fd, indexed by fd.
    @exclusivity(unchecked) var pullWaiters: [PullWaiters] = []
    /// Pulling: the id of the last cancellation that found no waiter. A task cancelled before
    /// its wait begins runs its cancellation handler at once, on the loop's thread, right
    /// before the wait (as `withTaskCancellationHandler` does for a cancelled task), and the
    /// wait finds its id here. A cancellation from elsewhere hops to the loop and comes after
    /// the wait began. Any other unmatched one is of a wait that has ended, and the next
    /// overwrites it: one value, not a set that would grow with every such race.
    @exclusivity(unchecked) var lastUnmatchedCancel: UInt64 = 0
    /// The counts, readable from any thread.
    public let counters = ConnectionCounters()
    /// Connections open now.
    @exclusivity(unchecked) public internal(set) var count = 0

    // The mutable state below is `@exclusivity(unchecked)`: it is confined to the loop's
    // thread, and the runtime's exclusivity checks on class properties (`swift_beginAccess`
    // per access) cost more than the rest of a round trip's bookkeeping (measured: 62
    // instructions per echo round trip).
    let handler: (Connection, ConnectionEvent) -> Void
    /// Made after the options are checked: a table made before a throw would leak (it is
    /// freed by `deinit`, which an init that throws never reaches).
    @exclusivity(unchecked) var slots: ConnectionSlots
    /// The one handler every connection's registration shares, borrowed by the selector's key
    /// table (no reference per registration): alive as long as this object, which outlives
    /// its registrations (see `keepAlive`).
    @exclusivity(unchecked) var readyHandler = SharedHandler { _, _ in }
    /// The loop's read buffer, as a pointer and a size: a buffer pointer's optional start
    /// costs every read a test and a conditional move (callgrind: 5 instructions).
    let readStart: UnsafeMutableRawPointer
    let readCapacity: Int
    /// The most one connection's queue holds while reading fills it: the high mark plus a read.
    let outputCapacityLimit: Int
    /// Set by `receive` when a read would block: the edge handler reads until then.
    @exclusivity(unchecked) var readWouldBlock = false
    @exclusivity(unchecked) var idleMilliseconds: UInt32 = 0
    let clockOrigin: LoopInstant
    @exclusivity(unchecked) var idleSweep: TimerHandle?
    /// Whether some connection may carry `.budgetPaused` (so a resume has work to do).
    @exclusivity(unchecked) var hasBudgetPaused = false
    @exclusivity(unchecked) var freedSinceTrim = 0
    @exclusivity(unchecked) var memoryTrim: TimerHandle?
    @exclusivity(unchecked) var drain: DrainState?
    /// How the shared budget's callbacks reach this object; cleared when it goes.
    @exclusivity(unchecked) var budgetToken: ConnectionsToken?
    /// The id of this object's callback in the budget, removed when it goes.
    @exclusivity(unchecked) var budgetCallback: UInt64?
    /// From its first connection until its loop closes, the object keeps itself alive, so
    /// nothing else need hold it for its connections to be served. (Not only while it has
    /// connections: taking and dropping that reference as the count went 0, 1, 0 cost a
    /// connect-echo-close cycle about 150 instructions.)
    @exclusivity(unchecked) var keepAlive: Unmanaged<Connections>?
    /// Set when the loop closes, which ends every connection: `take` refuses new ones.
    @exclusivity(unchecked) var closedWithLoop = false
    /// `.closed` notices waiting for the loop's next turn (see `tellClosedLater`), oldest first.
    @exclusivity(unchecked) var closedNotices: [ClosedNotice] = []

    /// Serves connections on `loop`; `handler` hears every event of every one of them.
    /// - Throws: `invalidArgument` for water marks out of order or a non-positive idle timeout.
    public convenience init(
        loop: IsolatedEventLoop, options: Options = Options(),
        handler: @escaping (Connection, ConnectionEvent) -> Void
    ) throws(SelectorError) {
        try self.init(loop: loop, options: options, pulling: false, handler: handler)
    }

    /// With `pulling`, the loop does not read: tasks do (`AsyncConnection`), and the loop
    /// resumes the one waiting to read (`Connections+Pull`).
    init(
        loop: IsolatedEventLoop, options: Options, pulling: Bool,
        handler: @escaping (Connection, ConnectionEvent) -> Void
    ) throws(SelectorError) {
        guard options.highWaterMark >= 1, options.highWaterMark <= 1 << 30 else {
            throw SelectorError(
                .connections, fd: nil, .invalidArgument("highWaterMark must be 1 byte to 1 GiB"))
        }
        guard options.lowWaterMark >= 0, options.lowWaterMark < options.highWaterMark else {
            throw SelectorError(
                .connections, fd: nil,
                .invalidArgument("lowWaterMark must be at least 0 and below highWaterMark"))
        }
        if let idleTimeout = options.idleTimeout, idleTimeout <= .zero {
            throw SelectorError(.connections, fd: nil, .invalidArgument("idleTimeout must be positive"))
        }
        guard options.trigger != .oneShot else {
            throw SelectorError(.connections, fd: nil, .invalidArgument("trigger must be level or edge"))
        }
        self.loop = loop
        self.options = options
        self.slots = ConnectionSlots(capacity: 1024)
        self.budget = options.budget
        self.selector = loop.eventLoop.selector
        self.handler = handler
        self.pulls = pulling
        // A reading task is resumed by the edge where the kernel has one: no interest change
        // per read. Otherwise reading is watched only while a task waits (free on poll and
        // select, whose interest lists are the library's own).
        trigger = pulling ? (loop.capabilities.edge == .native ? .edge : .level) : options.trigger
        halfClose = pulling || options.halfClose
        readStart = loop.readBuffer.baseAddress!
        readCapacity = loop.readBuffer.count
        outputCapacityLimit = options.highWaterMark + readCapacity
        clockOrigin = loop.now
        // Unretained: the object keeps itself alive while it has connections (`keepAlive`),
        // and only its connections' registrations hold these handlers.
        let this = Unretained(self)
        if pulling {
            readyHandler = SharedHandler { fd, events in
                this.with { $0.pullReady(fd, events) }
            }
        } else if trigger == .edge {
            readyHandler = SharedHandler { fd, events in
                this.with { $0.readyUntilWouldBlock(fd, events) }
            }
        } else {
            // The default mode, called by the dispatch directly (see `SharedHandler`).
            readyHandler = SharedHandler(connections: this)
        }
        loop.eventLoop.onClose(self) { [unowned(unsafe) self] in
            closedWithLoop = true
            closeAll()
            if let keepAlive {
                self.keepAlive = nil
                loop.eventLoop.releaseWhenSafe(keepAlive)
            }
        }
        startIdleSweep()
        watchBudget()
    }

    deinit {
        // Only reached with no connection open (each keeps this object alive, and closing
        // the loop ends them). The timers borrow `self` without retaining it, so they go first.
        budgetToken?.connections = nil
        if let budgetCallback { budget?.removeResumeCallback(budgetCallback) }
        loop.eventLoop.removeCloseObserver(self)
        idleSweep?.cancel()
        memoryTrim?.cancel()
        drain?.cancelTimers()
        if slots.highestFD >= 0 {
            for fd in 0...slots.highestFD where slots[fd].pointee.flags.contains(.open) {
                let slot = slots[fd]
                if slot.pointee.output != nil { releaseOutput(slot) }
                Socket.close(fd)
            }
        }
        slots.deallocate()
    }

    /// Takes over `fd`, a connected stream (non-blocking: accepted sockets are), and starts
    /// reading it. The fd is closed when the connection ends.
    ///
    /// Sockets are written with `send` (never `SIGPIPE`); other fds (pipes, ptys) with
    /// `write(2)`, which raises `SIGPIPE` when the reader is gone: ignore it first
    /// (`Descriptor.ignoreBrokenPipeSignal()`) if the process writes to pipes.
    /// - Throws: what registering the fd threw (a closed fd, an fd the backend cannot watch);
    ///   `loopClosed` once the loop is closing (its connections are ended, and one adopted
    ///   then would not be); the fd is then still the caller's.
    @discardableResult
    public func adopt(_ fd: Int32) throws(SelectorError) -> Connection {
        let generation = try take(fd)
        return Connection(fd: fd, generation: generation, owner: self)
    }

    /// `adopt` without the handle, for a server that keeps none (the echo service): a handle
    /// holds a reference to this object, and making one to drop it cost a retain and a
    /// release per connection (callgrind: 40 instructions per connection cycle). Returns the
    /// connection's generation.
    @discardableResult
    package func take(_ fd: Int32) throws(SelectorError) -> UInt32 {
        guard let slot = slots.entry(for: fd) else {
            throw SelectorError(.adopt, fd: fd, slots.refusal(for: fd))
        }
        guard !slot.pointee.flags.contains(.open) else {
            throw SelectorError(.adopt, fd: fd, .alreadyRegistered)
        }
        // The closing loop has ended these connections already (or is ending them): one
        // adopted now, from a `.closed` handler say, would never be ended.
        guard !closedWithLoop else { throw SelectorError(.adopt, fd: fd, .loopClosed) }
        try selector.add(
            fd, events: .read, trigger: trigger, handler: Unmanaged.passUnretained(readyHandler),
            borrowed: true)
        let generation = slot.pointee.generation &+ 1
        // Pulled connections may be readable already: the first read tries.
        slot.pointee = ConnectionSlot(
            lastActivity: ConnectionSlot.activeNow, generation: generation,
            flags: pulls ? [.open, .readReady] : .open)
        if keepAlive == nil { keepAlive = Unmanaged.passRetained(self) }
        count += 1
        counters.adopted.bump()
        counters.open.bump()
        // Counted first: a pipe, which has no half-close, ends at once there, and its end must
        // not take the count of the others down (finishing the drain early).
        if drain != nil { adoptedWhileDraining(fd, slot) }
        return generation
    }

    /// A connection adopted during a drain is drained too; one adopted once the drain's
    /// deadline has come (by a `.closed` handler of the deadline's own closing, say) or after
    /// the drain finished is aborted, since nothing would end it. Its
    /// `.closed` is told at the next turn, not inside the owner's `adopt`. Out of line: only
    /// for a shutdown.
    @inline(never)
    private func adoptedWhileDraining(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>) {
        slot.pointee.flags.insert(.draining)
        if let drain, drain.isFinished || drain.isPastDeadline {
            end(fd, slot, .aborted, checkingUnread: true, notifyLater: true)
        } else {
            sendEndOfStream(fd, slot, notifyLater: true)
        }
    }

    /// Calls `body` with each open connection, in fd order (a chat's broadcast, say).
    public func forEach(_ body: (Connection) -> Void) {
        guard slots.highestFD >= 0 else { return }
        for fd in 0...slots.highestFD {
            let slot = slots[fd]
            guard slot.pointee.flags.contains(.open) else { continue }
            body(Connection(fd: fd, generation: slot.pointee.generation, owner: self))
        }
    }

    // MARK: Reading (the registered handlers)

    /// Level mode: one read and, when output is queued, one write per readiness.
    @inline(__always)
    func ready(_ fd: Int32, _ events: Events) {
        let slot = slots[fd]
        if events.contains(.write) {
            guard flushOnce(fd, slot) != nil, mayStillRead(slot) else { return }
        }
        if events.contains(.read) {
            receive(fd, slot)
        }
    }

    /// After a flush in the same readiness: whether the handlers it called (`.outputDrained`
    /// pausing reading or closing) left the connection reading. Checked only after a flush, so
    /// a readiness for reading alone, the echo's, pays nothing for it.
    @inline(__always)
    private func mayStillRead(_ slot: UnsafeMutablePointer<ConnectionSlot>) -> Bool {
        slot.pointee.flags.isDisjoint(with: ConnectionSlot.Flags.notReading)
    }

    /// Edge mode: each readiness is consumed until the system call would block.
    func readyUntilWouldBlock(_ fd: Int32, _ events: Events) {
        let slot = slots[fd]
        let generation = slot.pointee.generation
        if events.contains(.write) {
            while true {
                guard let more = flushOnce(fd, slot) else { return }
                if !more { break }
            }
            guard mayStillRead(slot) else { return }
        }
        guard events.contains(.read) else { return }
        // `receive` notes `EAGAIN` in `readWouldBlock` rather than returning it, so the level
        // handler, which ignores it, keeps `receive` inlined.
        readWouldBlock = false
        while true {
            receive(fd, slot)
            let flags = slot.pointee.flags
            if readWouldBlock || !flags.contains(.open) || slot.pointee.generation != generation
                || !flags.isDisjoint(with: ConnectionSlot.Flags.notReading)
            {
                return
            }
        }
    }

    /// Reads once into the loop's buffer and hands it to the owner.
    @inline(__always)
    func receive(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>) {
        // Above a shared budget nobody reads (draining connections discard what they read,
        // so they may).
        // Optional chaining rather than `if let`: binding the budget retains it, per read.
        if budget?.isOverLimit.load(ordering: .relaxed) == true, !slot.pointee.flags.contains(.draining) {
            pauseForBudget(fd, slot)
            return
        }
        let count: Int
        let buffer = UnsafeMutableRawBufferPointer(start: readStart, count: readCapacity)
        do {
            guard let read = try Socket.read(fd, into: buffer) else {
                readWouldBlock = true
                return
            }
            count = read
        } catch {
            if Connections.isEndOfTerminal(fd, error) {
                endOfInput(fd, slot)
                return
            }
            end(fd, slot, .failed(Connections.readFailure(fd, error)))
            return
        }
        guard count > 0 else {
            endOfInput(fd, slot)
            return
        }
        counters.bytesReceived.bump(by: count)
        slot.pointee.lastActivity = ConnectionSlot.activeNow
        // Draining: input is no longer delivered, only read so the close is orderly; the
        // connection will end with a reset, since the peer's bytes were dropped.
        if slot.pointee.flags.contains(.draining) {
            slot.pointee.flags.insert(.inputDropped)
            return
        }
        handler(
            Connection(fd: fd, generation: slot.pointee.generation, owner: self),
            .received(UnsafeRawBufferPointer(start: readStart, count: count)))
    }

    /// What a failed read means. A pipe's write end is not open for reading, so its read
    /// fails with `EBADF`; it is reported ready only when its reader went away, which is the
    /// peer going away: `EPIPE`, as a write would have said. Out of line: only for failures.
    @inline(never)
    static func readFailure(_ fd: Int32, _ error: Errno) -> Errno {
        guard error == .badFileDescriptor else { return error }
        let flags = cselectors_fcntl_get(fd, F_GETFL)
        return flags >= 0 && flags & O_ACCMODE == O_WRONLY ? .brokenPipe : error
    }

    /// Whether a failed read is a pty's end of stream: its controlling side reads `EIO` once
    /// the other side is closed (Linux). Out of line: only for failures.
    @inline(never)
    static func isEndOfTerminal(_ fd: Int32, _ error: Errno) -> Bool {
        error == .ioError && isatty(fd) == 1
    }

    /// The peer ended its side: no more reading. Without `halfClose` the connection closes
    /// once its queue is written.
    private func endOfInput(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>) {
        slot.pointee.flags.insert(.peerClosed)
        if slot.pointee.flags.contains(.draining) {
            // Pending output goes first; a connection that dropped input is reset by the
            // drain ticker once the peer has everything written.
            if slot.pointee.output == nil && !slot.pointee.flags.contains(.inputDropped) {
                end(fd, slot, .peerClosed)
            } else {
                updateInterest(fd, slot)
            }
            return
        }
        let generation = slot.pointee.generation
        handler(Connection(fd: fd, generation: generation, owner: self), .endOfInput)
        guard slot.pointee.generation == generation, slot.pointee.flags.contains(.open) else { return }
        // A write the handler made failed: that failure ends the connection (at the next turn).
        if slot.pointee.flags.contains(.failed) { return }
        // Without half-close, or with this side's end of stream sent already (nothing more
        // can pass either way), the connection is over once its queue is written.
        if !halfClose || slot.pointee.flags.contains(.finSent), !slot.pointee.flags.contains(.closeRequested)
        {
            if slot.pointee.output == nil {
                end(fd, slot, .peerClosed)
                return
            }
        }
        updateInterest(fd, slot)
    }
}
