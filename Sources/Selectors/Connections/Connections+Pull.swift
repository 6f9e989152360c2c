/// The tasks waiting on one pulled connection: to read, and for its queue to drain.
struct PullWaiters {
    var read: UnsafeContinuation<Void, any Error>?
    var drain: UnsafeContinuation<Void, any Error>?
    var readID: UInt64 = 0
    var drainID: UInt64 = 0
}

/// Pulling (`AsyncConnection`): tasks read; the loop writes queued output as usual, and
/// resumes the task waiting to read when the fd becomes readable, or the task waiting for the
/// queue to drain when it falls to the low-water mark. A readiness that arrives while no task
/// waits is kept (`readReady`), so the next read tries the system call at once; after a read
/// found nothing (`EAGAIN`), reads skip the system call until the loop sees the fd readable
/// again, so a request/response exchange costs one `read` per request, as with callbacks.
/// Loop thread.
extension Connections {
    /// What one attempt to read found.
    enum PullRead {
        case bytes(Int)
        case wouldBlock
    }

    /// The registered handler when pulling.
    func pullReady(_ fd: Int32, _ events: Events) {
        let slot = slots[fd]
        if events.contains(.write) {
            // Edge-triggered (native backends): write until the kernel stops taking.
            while true {
                guard let more = flushOnce(fd, slot) else { return }
                if !more || trigger != .edge { break }
            }
        }
        guard events.contains(.read), slot.pointee.flags.contains(.open) else { return }
        if slot.pointee.flags.contains(.draining) {
            // No task reads any more (`drain` failed their waits): the loop reads and
            // discards, as for pushed connections, to see the peer's end of stream.
            receive(fd, slot)
        } else {
            slot.pointee.flags.insert(.readReady)
            guard slot.pointee.flags.contains(.readWaiting) else { return }
            endReadWait(fd, slot)?.resume()
        }
    }

    /// One read into `buffer`; `wouldBlock` tells the task to wait (`waitReadable`).
    /// Throws (and closes the connection) on a read error.
    func pullRead(_ connection: Connection, into buffer: UnsafeMutableRawBufferPointer) throws(SelectorError)
        -> PullRead
    {
        guard let slot = liveSlot(connection) else {
            throw SelectorError(.read, fd: connection.fd, .connectionClosed)
        }
        if slot.pointee.flags.contains(.peerClosed) { return .bytes(0) }
        // `close()` ends reading (its queue is still being written).
        if slot.pointee.flags.contains(.closeRequested) {
            throw SelectorError(.read, fd: connection.fd, .connectionClosed)
        }
        // Draining: the loop reads now, and drops the input (see `drain`); a task that was not
        // waiting when the drain began learns here what the waiting ones were told.
        if slot.pointee.flags.contains(.draining) {
            throw SelectorError(.read, fd: connection.fd, .connectionClosed)
        }
        // Above a shared budget nobody reads (see `receive`): the task waits for the resume.
        if budget?.isOverLimit.load(ordering: .relaxed) == true {
            pauseForBudget(connection.fd, slot)
            return .wouldBlock
        }
        // Nothing since the last `EAGAIN`: no system call (see above).
        guard slot.pointee.flags.contains(.readReady) else { return .wouldBlock }
        do {
            guard let count = try Socket.read(connection.fd, into: buffer) else {
                slot.pointee.flags.remove(.readReady)
                return .wouldBlock
            }
            if count == 0 {
                slot.pointee.flags.insert(.peerClosed)
                updateInterest(connection.fd, slot)
            } else {
                counters.bytesReceived.bump(by: count)
                slot.pointee.lastActivity = ConnectionSlot.activeNow
            }
            return .bytes(count)
        } catch {
            if Connections.isEndOfTerminal(connection.fd, error) {
                slot.pointee.flags.insert(.peerClosed)
                updateInterest(connection.fd, slot)
                return .bytes(0)
            }
            end(connection.fd, slot, .failed(error), notifyLater: true)
            throw SelectorError(.read, fd: connection.fd, .system(error))
        }
    }

    /// Suspends the calling task (on the loop's thread) until the connection may be readable.
    nonisolated(nonsending) func waitReadable(_ connection: Connection, id: UInt64) async throws {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            // Cancelled on the way here (a task cancelled before it called): it must throw,
            // not return, or its read would try again, find nothing and come straight back.
            let cancelled = lastUnmatchedCancel == id
            guard let slot = liveSlot(connection) else {
                return continuation.resume(
                    throwing: SelectorError(.read, fd: connection.fd, .connectionClosed))
            }
            if cancelled { return continuation.resume(throwing: CancellationError()) }
            let fd = connection.fd
            if slot.pointee.flags.contains(.readReady) && !slot.pointee.flags.contains(.budgetPaused) {
                // Readable since the last read: no wait.
                return continuation.resume()
            }
            guard !slot.pointee.flags.contains(.readWaiting) else {
                return continuation.resume(throwing: SelectorError(.read, fd: fd, .alreadyWaiting))
            }
            growWaiters(to: fd)
            pullWaiters[Int(fd)].read = continuation
            pullWaiters[Int(fd)].readID = id
            slot.pointee.flags.insert(.readWaiting)
            if trigger != .edge { updateInterest(fd, slot) }
        }
    }

    /// Suspends the calling task (on the loop's thread) until the queue is at or below the
    /// low-water mark; returns at once if it is not full.
    nonisolated(nonsending) func waitDrained(_ connection: Connection, id: UInt64) async throws {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            // Cancelled on the way here: it throws (see `waitReadable`).
            let cancelled = lastUnmatchedCancel == id
            guard let slot = liveSlot(connection) else {
                return continuation.resume(
                    throwing: SelectorError(.write, fd: connection.fd, .connectionClosed))
            }
            let fd = connection.fd
            guard slot.pointee.flags.contains(.outputFull) else { return continuation.resume() }
            if cancelled { return continuation.resume(throwing: CancellationError()) }
            growWaiters(to: fd)
            guard pullWaiters[Int(fd)].drain == nil else {
                return continuation.resume(throwing: SelectorError(.write, fd: fd, .alreadyWaiting))
            }
            pullWaiters[Int(fd)].drain = continuation
            pullWaiters[Int(fd)].drainID = id
        }
    }

    /// The task of waiter `id` was cancelled: it resumes with `CancellationError`; the
    /// connection stays as it is.
    func cancelWait(_ connection: Connection, id: UInt64) {
        guard liveSlot(connection) != nil else { return }
        let index = Int(connection.fd)
        let waiters = index < pullWaiters.count ? pullWaiters[index] : PullWaiters()
        if waiters.read != nil, waiters.readID == id {
            endReadWait(connection.fd, slots[connection.fd])?.resume(throwing: CancellationError())
        } else if waiters.drain != nil, waiters.drainID == id {
            takeWaiter(connection.fd, read: false)?.resume(throwing: CancellationError())
        } else {
            // Not waiting yet, or not any more (see `lastUnmatchedCancel`).
            lastUnmatchedCancel = id
        }
    }

    /// Ends the task's wait to read, however it ends (the fd readable, the task cancelled):
    /// the flag goes, and level-triggered, the read interest only the wait kept, so poll and
    /// select do not report unread input at every wait (a cancelled wait that kept it made
    /// them spin). Returns the waiting task, to resume.
    func endReadWait(
        _ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>
    ) -> UnsafeContinuation<Void, any Error>? {
        slot.pointee.flags.remove(.readWaiting)
        if trigger != .edge { updateInterest(fd, slot) }
        return takeWaiter(fd, read: true)
    }

    /// The queue drained to the low-water mark: the task waiting to write goes on.
    func resumeDrainWaiter(_ fd: Int32) {
        takeWaiter(fd, read: false)?.resume()
    }

    /// Whether a task waits for `connection`'s queue to drain.
    func isWaitingToDrain(_ connection: Connection) -> Bool {
        let index = Int(connection.fd)
        return index < pullWaiters.count && pullWaiters[index].drain != nil && liveSlot(connection) != nil
    }

    /// Reading ended (`close()` with output still queued): the task waiting to read fails.
    /// The interest is `close`'s to update.
    func failReadWaiter(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>) {
        slot.pointee.flags.remove(.readWaiting)
        takeWaiter(fd, read: true)?.resume(throwing: SelectorError(.read, fd: fd, .connectionClosed))
    }

    /// The connection ended: its waiting tasks fail.
    func failWaiters(_ fd: Int32, _ reason: ConnectionEnd) {
        let error = SelectorError(.read, fd: fd, .connectionClosed)
        takeWaiter(fd, read: true)?.resume(throwing: error)
        takeWaiter(fd, read: false)?.resume(throwing: SelectorError(.write, fd: fd, .connectionClosed))
    }

    /// The error of a write that failed on this connection (it closes at the loop's next turn).
    func failure(of connection: Connection) -> Errno? {
        guard let slot = liveSlot(connection), slot.pointee.flags.contains(.failed) else { return nil }
        return Errno(rawValue: slot.pointee.failure)
    }

    /// How many tasks wait on connections now (for leak checks).
    var pullWaiterCount: Int {
        pullWaiters.reduce(0) { $0 + ($1.read == nil ? 0 : 1) + ($1.drain == nil ? 0 : 1) }
    }

    private func takeWaiter(_ fd: Int32, read: Bool) -> UnsafeContinuation<Void, any Error>? {
        let index = Int(fd)
        guard index < pullWaiters.count else { return nil }
        if read {
            defer { pullWaiters[index].read = nil }
            return pullWaiters[index].read
        }
        defer { pullWaiters[index].drain = nil }
        return pullWaiters[index].drain
    }

    private func growWaiters(to fd: Int32) {
        let index = Int(fd)
        if index >= pullWaiters.count {
            pullWaiters.append(
                contentsOf: repeatElement(
                    PullWaiters(), count: max(index + 1, pullWaiters.count * 2) - pullWaiters.count))
        }
    }
}
