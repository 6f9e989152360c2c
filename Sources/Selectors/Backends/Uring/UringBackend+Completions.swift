#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    extension UringBackend {
        /// Handles the completions in the CQ, in order, and hands them back to the kernel.
        /// Stops early only when the buffer is full and a completion needs a new entry (it is
        /// read at the next wait). While `settling` (see `settle`), level and one-shot results
        /// of polls armed before this wait are hints.
        @inline(__always)
        func reap(
            into buffer: UnsafeMutableBufferPointer<ReadyEvent>, written start: Int, settling: Bool = false
        ) -> Int {
            let ready = ring.completionsReady
            if ready == 0 { return start }
            var written = start
            var consumed = 0
            while consumed < ready {
                guard
                    handle(ring.completion(at: consumed), into: buffer, written: &written, settling: settling)
                else { break }
                consumed += 1
            }
            ring.consume(consumed)
            return written
        }

        /// One completion: dropped if stale, else turned into readiness and the fd's next step
        /// (see `UringBackend`); while `settling`, a level or one-shot result of a poll armed
        /// before this wait only leads to a new poll (see `settle`). False only when it needs a
        /// buffer entry and none is left; then nothing was changed.
        @inline(__always)
        private func handle(
            _ completion: cselectors_uring_completion, into buffer: UnsafeMutableBufferPointer<ReadyEvent>,
            written: inout Int, settling: Bool
        ) -> Bool {
            let data = UringUserData(rawValue: completion.user_data)
            if data.isRemoval {
                // Failures only (success posts nothing). ENOENT: the poll had completed.
                // EALREADY (a request being run; not seen for polls, which a cancel always
                // reaches): tried again.
                if completion.result == -EALREADY { registrations.removals.append(data.removedPoll) }
                return true
            }
            let fd = data.fd
            let isFinal = completion.more == 0
            guard registrations.contains(fd) else { return true }
            let slot = registrations.slot(fd)
            guard slot.pointee.isRegistered, slot.pointee.tag == data.tag else {
                // Stale: removed or superseded. If it ended, a retried removal is not needed.
                if isFinal { registrations.forgetRemoval(of: data) }
                return true
            }
            let ready =
                completion.result >= 0
                ? UringPollMask.readiness(UInt32(bitPattern: completion.result)) : Events.all
            let wanted = !ready.intersection(slot.pointee.events).isEmpty
            let trigger = slot.pointee.trigger
            if settling && trigger != .edge && slot.pointee.armBatch != batch {
                // A hint (see `settle`): arm a single-shot poll again, or a quiet one for
                // POLLRDHUP alone.
                if isFinal || wanted {
                    if isFinal { registrations.retire(fd) } else { registrations.disarm(fd) }
                    slot.pointee.isQuiet = !wanted
                    registrations.queueArm(fd)
                }
                return true
            }
            let isNewEntry = slot.pointee.batch != batch
            if wanted && isNewEntry && written == buffer.count { return false }
            let wasMultishot = slot.pointee.isMultishot
            if isFinal { registrations.retire(fd) }
            var rearm = false
            switch trigger {
            case .edge:
                // A multishot poll the kernel ended is armed again; one that ended on an error
                // (EBADF: the fd was closed before it was armed) reported it once, and stops.
                rearm = isFinal && completion.result >= 0
            case .level, .oneShot:
                if wanted {
                    // A quiet multishot poll is replaced by a single-shot one again.
                    if wasMultishot && !isFinal { registrations.disarm(fd) }
                    slot.pointee.isQuiet = false
                    rearm = trigger == .level
                } else if isFinal {
                    // POLLRDHUP alone, for a `.write` registration: see `UringSlot.isQuiet`.
                    slot.pointee.isQuiet = true
                    rearm = true
                }
            }
            if wanted {
                if !isNewEntry {
                    buffer[Int(slot.pointee.position)].events.formUnion(ready)
                } else {
                    buffer[written] = ReadyEvent(token: slot.pointee.token, events: ready)
                    slot.pointee.batch = batch
                    slot.pointee.position = Int32(written)
                    written += 1
                }
            }
            if rearm { registrations.queueArm(fd) }
            return true
        }
    }
#endif
