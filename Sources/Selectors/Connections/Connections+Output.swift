/// Writing: straight to the kernel, queueing only the rest; flushing the queue when the fd is
/// writable; choosing what each connection watches.
extension Connections {
    /// `Connection.write`: sends what the kernel takes now and queues the rest.
    @inline(__always)
    func write(_ connection: Connection, _ bytes: UnsafeRawBufferPointer) throws(SelectorError) {
        let fd = connection.fd
        guard let slot = liveSlot(connection) else {
            throw SelectorError(.write, fd: fd, .connectionClosed)
        }
        guard slot.pointee.flags.isDisjoint(with: ConnectionSlot.Flags.outputClosed) else {
            throw SelectorError(.write, fd: fd, .outputClosed)
        }
        guard bytes.count > 0 else { return }
        // Refused whole, before anything is sent: a partial write and then a throw would leave
        // the caller unable to tell what went out. A subtraction, since a count near `Int.max`
        // would overflow an addition. (Callgrind: 2 instructions per echo round trip.)
        guard bytes.count <= OutputBuffer.countLimit - slot.pointee.pendingCount else {
            throw OutputBuffer.overLimit(fd)
        }
        var input = bytes
        let wasIdle = slot.pointee.output == nil
        if wasIdle {
            let written: Int
            do {
                written = try send(fd, slot, input) ?? 0
            } catch {
                fail(fd, slot, error)
                return
            }
            counters.bytesSent.bump(by: written)
            // Bytes the kernel took are progress for the idle timeout, as a flush's are.
            if written > 0 { slot.pointee.lastActivity = ConnectionSlot.activeNow }
            if written == input.count { return }
            input = UnsafeRawBufferPointer(rebasing: input[written...])
        }
        enqueue(fd, slot, input, wasIdle: wasIdle)
    }

    /// Queues what the kernel did not take; watches `.write`; reports a full queue.
    private func enqueue(
        _ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>, _ input: UnsafeRawBufferPointer,
        wasIdle: Bool
    ) {
        let allocated = slot.pointee.outputAllocationSize
        guard slot.pointee.append(input, capacityLimit: outputCapacityLimit) else {
            fail(fd, slot, .noMemory)
            return
        }
        let grown = slot.pointee.outputAllocationSize - allocated
        if grown > 0 {
            counters.outputBufferBytes.bump(by: grown)
            options.budget?.add(grown)
        }
        let pending = slot.pointee.pendingCount
        counters.pendingBytes.bump(by: input.count)
        counters.peakPendingBytes.raise(to: pending)
        if pending > options.highWaterMark && !slot.pointee.flags.contains(.outputFull) {
            becameFull(fd, slot)
        } else if !wasIdle {
            return  // already watching .write
        }
        updateInterest(fd, slot)
    }

    /// Out of line: the echo path, which inlines `write`, grows by one call in a branch it
    /// rarely takes.
    @inline(never)
    private func becameFull(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>) {
        slot.pointee.flags.insert([.outputFull, .fullNoticePending])
        if options.pausesReadingWhenFull {
            slot.pointee.flags.insert(.readPaused)
            counters.readPauses.bump()
        }
        // Told at the loop's next turn: `write` was called by the owner, who must not hear
        // an event from inside its own call. A write made in a loop-thread task is told only
        // after the next iteration's handlers, which may drain the queue first: `drained`
        // then clears the pending notice, and the owner hears neither.
        let connection = Connection(fd: fd, generation: slot.pointee.generation, owner: self)
        loop.execute { [self] in
            guard let slot = liveSlot(connection), slot.pointee.flags.contains(.fullNoticePending) else {
                return
            }
            slot.pointee.flags.remove(.fullNoticePending)
            handler(connection, .outputFull)
        }
    }

    /// Writes queued output with one system call. Returns `nil` if the connection was closed,
    /// `true` if the kernel took part and the rest is still queued (so another write may take
    /// more; edge mode writes until it does not), `false` when nothing is left or the write
    /// would block.
    @inline(__always)
    func flushOnce(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>) -> Bool? {
        let pending = slot.pointee.pending
        guard pending.count > 0 else { return false }
        let written: Int
        do {
            written = try send(fd, slot, pending) ?? 0
        } catch {
            end(fd, slot, .failed(error))
            return nil
        }
        guard written > 0 else { return false }
        counters.bytesSent.bump(by: written)
        counters.pendingBytes.bump(by: -written)
        slot.pointee.lastActivity = ConnectionSlot.activeNow
        if written < pending.count {
            slot.pointee.consume(written)
            if slot.pointee.flags.contains(.outputFull) && pending.count - written <= options.lowWaterMark {
                guard drained(fd, slot) else { return nil }
                return updateInterest(fd, slot) ? true : nil
            }
            return true
        }
        releaseOutput(slot)
        if slot.pointee.flags.contains(.outputFull) {
            guard drained(fd, slot) else { return nil }
        }
        return afterFlushed(fd, slot) ? false : nil
    }

    /// A full connection fell to the low-water mark: reading resumes, the owner is told.
    /// Returns false if the owner closed the connection meanwhile.
    private func drained(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>) -> Bool {
        let untold = slot.pointee.flags.contains(.fullNoticePending)
        slot.pointee.flags.remove([.outputFull, .readPaused, .fullNoticePending])
        if pulls { resumeDrainWaiter(fd) }
        // Drained before `.outputFull` was told (see `becameFull`): neither is.
        if untold { return true }
        let generation = slot.pointee.generation
        handler(Connection(fd: fd, generation: generation, owner: self), .outputDrained)
        return slot.pointee.generation == generation && slot.pointee.flags.contains(.open)
    }

    /// Everything queued was written: finish a requested close or half-close, or go on.
    /// Returns false if the connection was closed.
    private func afterFlushed(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>) -> Bool {
        // `.outputDrained`'s handler wrote again: the queue is not empty after all.
        if slot.pointee.output != nil { return updateInterest(fd, slot) }
        let flags = slot.pointee.flags
        // Draining with input dropped: the drain ticker resets it once the peer has it all.
        if flags.contains(.inputDropped) { return updateInterest(fd, slot) }
        if flags.contains(.closeRequested) {
            finishRequestedClose(fd, slot)
            return false
        }
        // Draining, the peer's end already seen: nothing more will come to end it.
        if flags.contains(.peerClosed) && (!halfClose || flags.contains(.draining)) {
            end(fd, slot, .peerClosed)
            return false
        }
        if flags.contains(.shutdownRequested) || flags.contains(.draining) { sendEndOfStream(fd, slot) }
        return updateInterest(fd, slot)
    }

    /// `send` for sockets (never `SIGPIPE`); `write(2)` for anything else, learnt from the first
    /// `ENOTSOCK`, so sockets pay nothing for pipes being allowed.
    @inline(__always)
    func send(
        _ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>, _ bytes: UnsafeRawBufferPointer
    ) throws(Errno) -> Int? {
        if !slot.pointee.flags.contains(.notSocket) {
            do {
                return try Socket.write(fd, from: bytes)
            } catch  where error == .notSocket {
                slot.pointee.flags.insert(.notSocket)
            }
        }
        return try Descriptor.write(fd, from: bytes)
    }

    /// Read unless something keeps the connection from it; write while anything is queued.
    /// With neither, the connection is taken off the loop until one of them is wanted again.
    /// Returns false if the connection had to be closed (the selector refused the change).
    @discardableResult
    func updateInterest(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>) -> Bool {
        var events: Events = []
        let flags = slot.pointee.flags
        // Pulled and level-triggered: read is watched while a task waits, and while draining
        // (the loop then reads and drops the input, and sees the peer's end).
        if flags.isDisjoint(with: ConnectionSlot.Flags.notReading)
            && (!pulls || trigger == .edge || !flags.isDisjoint(with: [.readWaiting, .draining]))
        {
            events.insert(.read)
        }
        if slot.pointee.output != nil && !flags.contains(.failed) { events.insert(.write) }
        do {
            // The selector's key-less calls: `Connections` never needs the keys.
            if events.isEmpty {
                if !flags.contains(.unwatched) {
                    selector.remove(fd)
                    slot.pointee.flags.insert(.unwatched)
                }
            } else if flags.contains(.unwatched) {
                try selector.add(
                    fd, events: events, trigger: trigger, handler: Unmanaged.passUnretained(readyHandler),
                    borrowed: true)
                slot.pointee.flags.remove(.unwatched)
            } else {
                // No system call when the interest is unchanged.
                try selector.change(fd, events: events)
            }
            return true
        } catch {
            end(fd, slot, .failed(error.errno ?? .badFileDescriptor))
            return false
        }
    }

    /// A write the owner made failed: the connection stops, and closes with the error at the
    /// loop's next turn (the owner must not hear an event from inside its own call).
    func fail(_ fd: Int32, _ slot: UnsafeMutablePointer<ConnectionSlot>, _ error: Errno) {
        guard !slot.pointee.flags.contains(.failed) else { return }
        slot.pointee.flags.insert(.failed)
        slot.pointee.failure = error.rawValue
        updateInterest(fd, slot)
        let connection = Connection(fd: fd, generation: slot.pointee.generation, owner: self)
        loop.execute { [self] in
            guard let slot = liveSlot(connection) else { return }
            end(fd, slot, .failed(Errno(rawValue: slot.pointee.failure)))
        }
    }

    /// The slot of a connection that is still open, or nil for a dead handle.
    @inline(__always)
    func liveSlot(_ connection: Connection) -> UnsafeMutablePointer<ConnectionSlot>? {
        guard let slot = slots.existing(connection.fd), slot.pointee.generation == connection.generation,
            slot.pointee.flags.contains(.open)
        else { return nil }
        return slot
    }
}
