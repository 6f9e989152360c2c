internal import CSelectors

/// Ending connections: the owner's close, half-close and abort; failures; the graceful drain
/// of a shutdown; and the one place a connection's fd is closed.
extension Connections {
    /// `Connection.close`: stop reading, write what is queued, then close.
    func close(_ connection: Connection) {
        guard let slot = liveSlot(connection), !slot.pointee.flags.contains(.failed) else { return }
        // Draining: the drain closes it already, the careful way (a close of its own, once the
        // queue is written, could come while input sits unread, and the kernel would then
        // reset at once, destroying what was written and not yet delivered). An async task
        // whose wait the drain failed calls exactly this.
        if slot.pointee.flags.contains(.draining) { return }
        slot.pointee.flags.insert(.closeRequested)
        // No more reading: a task waiting to read fails now, not when the queue is written.
        if pulls { failReadWaiter(connection.fd, slot) }
        if slot.pointee.output == nil {
            finishRequestedClose(connection.fd, slot, notifyLater: true)
        } else {
            updateInterest(connection.fd, slot)
        }
    }

    /// A requested close whose queue is written. What the peer sent since `close()` stopped
    /// reading is read and dropped first: a TCP socket closed with input unread is reset by
    /// the kernel at once, which destroys what it had not yet delivered of the queue. (Only
    /// input that arrives after the fd is closed can still do that.) A peer that keeps
    /// sending is read a bounded number of times, and then the close is that reset, counted.
    func finishRequestedClose(
        _ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>, notifyLater: Bool = false
    ) {
        if let unread = Connections.unreadInput(fd), unread > 0 {
            let buffer = UnsafeMutableRawBufferPointer(start: readStart, count: readCapacity)
            for _ in 0..<16 {
                guard let count = try? Socket.read(fd, into: buffer), count > 0 else { break }
                counters.bytesReceived.bump(by: count)
            }
        }
        end(fd, slot, endOfClose(slot), checkingUnread: true, notifyLater: notifyLater)
    }

    /// How a requested close ends: `.peerClosed` if the peer had ended its side first (the
    /// usual end of a conversation), `.closed` if this side ended it.
    func endOfClose(_ slot: UnsafeMutablePointer<ConnectionSlot>) -> ConnectionEnd {
        slot.pointee.flags.contains(.peerClosed) ? .peerClosed : .closed
    }

    /// `Connection.shutdownOutput`: half-close once what is queued is written.
    func shutdownOutput(_ connection: Connection) {
        guard let slot = liveSlot(connection), !slot.pointee.flags.contains(.failed) else { return }
        slot.pointee.flags.insert(.shutdownRequested)
        if slot.pointee.output == nil { sendEndOfStream(connection.fd, slot) }
    }

    /// `Connection.abort`: close at once, with a reset, dropping what is queued.
    func abort(_ connection: Connection) {
        guard let slot = liveSlot(connection) else { return }
        slot.pointee.flags.insert(.inputDropped)
        end(connection.fd, slot, .aborted, notifyLater: true)
    }

    /// `Connection.pauseReading` and `resumeReading`.
    func setReadingPaused(_ connection: Connection, _ paused: Bool) {
        guard let slot = liveSlot(connection) else { return }
        if paused == slot.pointee.flags.contains(.ownerPaused) { return }
        if paused {
            slot.pointee.flags.insert(.ownerPaused)
        } else {
            slot.pointee.flags.remove(.ownerPaused)
        }
        updateInterest(connection.fd, slot)
    }

    /// Sends end of stream (`shutdown(SHUT_WR)`) once nothing is queued. While draining, a
    /// connection with unread input ends with a reset instead (see `drain`). A descriptor that
    /// is not a socket has no half-close: it is closed, and `.closed` told at the next turn
    /// unless `notifyLater` says otherwise (by default: not while `drain` goes over them all,
    /// so its `done` comes after every `.closed`).
    func sendEndOfStream(
        _ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>, notifyLater: Bool? = nil
    ) {
        let flags = slot.pointee.flags
        guard !flags.contains(.finSent), !flags.contains(.inputDropped) else { return }
        if flags.contains(.draining), let unread = Connections.unreadInput(fd), unread > 0 {
            slot.pointee.flags.insert(.inputDropped)
            return
        }
        slot.pointee.flags.insert(.finSent)
        do {
            try Socket.shutdownWrite(fd)
            // Both sides have ended (a half-closed connection whose peer ended first): nothing
            // more can pass either way. A drain ends those itself.
            if flags.contains(.peerClosed) && !flags.contains(.draining) {
                end(fd, slot, .peerClosed, notifyLater: notifyLater ?? true)
            }
        } catch  where error == .notSocket {
            end(fd, slot, endOfClose(slot), notifyLater: notifyLater ?? !flags.contains(.draining))
        } catch {
            // The peer is gone already; the next read or write says how.
        }
    }

    /// Closes the connection: the one place an fd is closed. If data is lost with it (output
    /// still queued, or input nobody read) and it did not fail anyway, the close is a reset
    /// (`SO_LINGER` 0), so the peer cannot take being cut off for an orderly end. With
    /// `checkingUnread`, input still in the kernel counts as lost (Linux resets a socket closed
    /// with unread input by itself; asking first keeps the count right everywhere).
    /// `notifyLater` delivers `.closed` at the loop's next turn, for closes the owner's own
    /// call caused.
    func end(
        _ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>, _ reason: ConnectionEnd,
        checkingUnread: Bool = false, notifyLater: Bool = false
    ) {
        let flags = slot.pointee.flags
        guard flags.contains(.open) else { return }
        // The key may be gone already (a failed modify), or never be there (`.unwatched`).
        // The fd is closed below, with nothing in between that needs the registration.
        if !flags.contains(.unwatched) { selector.removeBeforeClose(fd) }
        var dropsInput = flags.contains(.inputDropped)
        if checkingUnread && !dropsInput, let unread = Connections.unreadInput(fd), unread > 0 {
            dropsInput = true
        }
        if case .failed = reason {
        } else if slot.pointee.output != nil || dropsInput {
            // Counted only when it is one: a pipe or pty has no reset (`ENOTSOCK`).
            if (try? Socket.setLinger0(fd)) != nil { counters.resetsSent.bump() }
        }
        if slot.pointee.output != nil {
            counters.pendingBytes.bump(by: -slot.pointee.pendingCount)
            releaseOutput(slot)
        }
        let generation = slot.pointee.generation
        slot.pointee = ConnectionSlot(generation: generation)
        if pulls { failWaiters(fd, reason) }
        count -= 1
        // Counted before the close, so a peer that sees the end of stream sees the count.
        counters.open.bump(by: -1)
        counters.count(reason)
        Socket.close(fd)
        // The handle is made in each branch: one made before them, and captured by the
        // closure in one, cost the direct call a retain and release (callgrind: 44
        // instructions per connect-echo-close cycle).
        if notifyLater {
            // The drain, if this was its last connection, finishes once this is told
            // (`finishDrainIfOver`).
            tellClosedLater(ClosedNotice(fd: fd, generation: generation, end: reason))
            return
        }
        handler(Connection(fd: fd, generation: generation, owner: self), .closed(reason))
        // The drain asked first, inline: a server without one closes its last connection
        // often, and the call cost each such close 20 instructions (callgrind, conn cycle).
        if count == 0 && drain != nil { finishDrainIfOver() }
    }

    /// Tells `.closed` for a close the owner's own call caused, after that call: at the loop's
    /// next turn, by one task for all the notices of a turn. The notices wait here, not in
    /// the task: a closing loop drops its tasks, and the `closeAll` its closing runs tells them
    /// (a closing loop schedules none).
    private func tellClosedLater(_ notice: ClosedNotice) {
        closedNotices.append(notice)
        guard closedNotices.count == 1, !loop.eventLoop.isClosed else { return }
        loop.execute { [self] in tellClosedNotices() }
    }

    /// Tells every waiting `.closed`, oldest first, and those their handlers cause, each
    /// after the handler's call has returned.
    private func tellClosedNotices() {
        while !closedNotices.isEmpty {
            let notices = closedNotices
            closedNotices = []
            for notice in notices {
                handler(
                    Connection(fd: notice.fd, generation: notice.generation, owner: self), .closed(notice.end)
                )
            }
        }
        finishDrainIfOver()
    }

    // MARK: Shutting down

    /// Closes every open connection at once, with a reset where data is lost; each one's
    /// `.closed(.aborted)` is delivered before this returns, after any `.closed` still
    /// waiting for the loop's next turn.
    public func closeAll() {
        tellClosedNotices()
        if slots.highestFD >= 0 {
            for fd in 0...slots.highestFD where slots[fd].pointee.flags.contains(.open) {
                end(fd, slots[fd], .aborted, checkingUnread: true)
            }
        }
        // Their handlers may have closed others (told after the call, so not yet): a closing
        // loop has no later turn, and a caller expects every `.closed` told on return.
        tellClosedNotices()
    }

    /// Ends every connection gracefully, for a shutdown, and calls `done` once none is left.
    ///
    /// A connection with nothing in flight either way (nothing queued, nothing the peer has
    /// not acknowledged, nothing unread) is closed at once (`.closed(.closed)`): an idle
    /// client keeps no shutdown waiting. For the others, input is read and discarded from now
    /// on; queued output is written; then each gets a half-close (FIN) and closes when its
    /// peer ends its side (`.closed(.peerClosed)`). One whose input is dropped (unread when its output was
    /// written, or arriving later) is reset instead, once the peer's kernel has acknowledged
    /// everything written, so nothing written is destroyed and the peer still learns it was
    /// cut off. Whatever is left at `deadline` is closed (`.aborted`, reset if data is lost).
    /// Connections adopted during a drain are drained too, and those adopted once the deadline
    /// has come or after the drain finished are aborted at once (`.closed(.aborted)` at the
    /// next turn): nothing would end them otherwise. Calling it again does nothing.
    public func drain(until deadline: LoopInstant, then done: @escaping () -> Void) {
        guard drain == nil else { return }
        idleSweep?.cancel()
        idleSweep = nil
        let state = DrainState(done: done)
        drain = state
        if slots.highestFD >= 0 {
            for fd in 0...slots.highestFD {
                let slot = slots[fd]
                guard slot.pointee.flags.contains(.open) else { continue }
                // A failed write ends it at the next turn with its error (see `fail`); ended
                // here as quiet, it would be told `.closed` instead.
                if slot.pointee.flags.contains(.failed) { continue }
                slot.pointee.flags.insert(.draining)
                slot.pointee.flags.remove([.readPaused, .budgetPaused, .ownerPaused, .readWaiting])
                if pulls { failWaiters(fd, .aborted) }
                if slot.pointee.output == nil {
                    if slot.pointee.flags.contains(.peerClosed) {
                        end(fd, slot, .peerClosed)
                        continue
                    }
                    if isQuiet(fd) {
                        end(fd, slot, .closed)
                        continue
                    }
                    sendEndOfStream(fd, slot)
                }
                if slot.pointee.flags.contains(.open) { updateInterest(fd, slot) }
            }
        }
        guard count > 0 else { return finishDrainIfOver() }
        // Unretained: `deinit` cancels both (see `Connections` for why no weak reference).
        state.deadline = loop.schedule(at: deadline) { [unowned(unsafe) self] in
            // A `.closed` handler that adopts a connection now must not start it draining:
            // the deadline that would end it is this one (see `adoptedWhileDraining`).
            drain?.isPastDeadline = true
            closeAll()
        }
        state.ticker = loop.schedule(after: Connections.drainTick, repeating: Connections.drainTick) {
            [unowned(unsafe) self] in resetFlushedConnectionsThatDroppedInput()
        }
    }

    /// Whether nothing is in flight on `fd` either way: every byte written acknowledged by the
    /// peer, none received unread. (A descriptor that cannot say, a pipe, counts as quiet.)
    private func isQuiet(_ fd: Int32) -> Bool {
        let unacknowledged = (try? Socket.unacknowledgedByteCount(fd)) ?? 0
        let unread = Connections.unreadInput(fd) ?? 0
        return unacknowledged == 0 && unread == 0
    }

    /// Bytes received on `fd` and not read yet; nil if it cannot say. A pipe's write end has
    /// none of its own (`FIONREAD` there counts what waits for the reader), which is asked
    /// only when `FIONREAD` says there are some: no system call more for a socket with none.
    static func unreadInput(_ fd: Int32) -> Int? {
        let counted = try? Socket.unreadByteCount(fd)
        guard let unread = counted, unread > 0 else { return counted }
        let flags = cselectors_fcntl_get(fd, F_GETFL)
        return flags >= 0 && flags & O_ACCMODE == O_WRONLY ? 0 : unread
    }

    /// How often a drain looks for connections to reset.
    static let drainTick: Duration = .milliseconds(10)

    /// Whether `drain` has been called.
    public var isDraining: Bool { drain != nil }

    /// Resets each drained connection that dropped input once its peer's kernel holds
    /// everything written (nothing unacknowledged), so the reset destroys none of it.
    private func resetFlushedConnectionsThatDroppedInput() {
        guard slots.highestFD >= 0 else { return }
        for fd in 0...slots.highestFD {
            let slot = slots[fd]
            let flags = slot.pointee.flags
            guard flags.contains(.open), flags.contains(.inputDropped), slot.pointee.output == nil else {
                continue
            }
            if let unacknowledged = try? Socket.unacknowledgedByteCount(fd), unacknowledged > 0 { continue }
            end(fd, slot, .aborted)
        }
    }

    /// Finishes a drain once no connection is left and every `.closed` has been told: a
    /// notice still waiting (the owner's own close or abort, this turn) comes before `done`,
    /// and `tellClosedNotices` calls this again after it.
    private func finishDrainIfOver() {
        guard count == 0, closedNotices.isEmpty, let state = drain, !state.isFinished else { return }
        state.isFinished = true
        state.cancelTimers()
        state.done()
    }
}

/// A `.closed` waiting to be told (`Connections.tellClosedLater`).
struct ClosedNotice {
    let fd: Int32
    let generation: UInt32
    let end: ConnectionEnd
}

/// A drain in progress (`Connections.drain`).
final class DrainState {
    let done: () -> Void
    var deadline: TimerHandle?
    var ticker: TimerHandle?
    /// Set when the deadline came: from then on nothing is drained, only closed.
    var isPastDeadline = false
    var isFinished = false

    init(done: @escaping () -> Void) { self.done = done }

    func cancelTimers() {
        deadline?.cancel()
        ticker?.cancel()
    }
}
