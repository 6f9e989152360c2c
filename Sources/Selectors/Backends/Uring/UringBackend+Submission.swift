#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    extension UringBackend {
        /// The largest CQ the kernel makes (`IORING_MAX_CQ_ENTRIES`).
        private static let maximumCompletionEntries = 65_536
        /// Completions beyond one per registration that a wait may see (removals, multishots).
        private static let completionHeadroom = 64

        // MARK: Submission

        /// Writes the queued removals and, with `arms`, the queued polls into the SQ, submitting
        /// without waiting whenever the SQ is full. Returns how many removals were written.
        /// Whatever cannot be written (the kernel refused a chunk) stays queued.
        @inline(__always)
        func writeQueued(arms: Bool) -> Int {
            var removed = 0
            while removed < registrations.removals.count {
                guard reserveSubmission() else { break }
                let poll = registrations.removals[removed]
                ring.prepareRemove(target: poll.rawValue, userData: UringUserData.removal(of: poll).rawValue)
                removed += 1
            }
            registrations.removals.removeFirst(removed)
            guard arms else { return removed }
            var taken = 0
            while taken < registrations.armQueue.count {
                let fd = registrations.armQueue[taken]
                if registrations.slot(fd).pointee.isQueued {
                    guard reserveSubmission() else { break }
                    arm(fd)
                }
                taken += 1
            }
            registrations.armQueue.removeFirst(taken)
            return removed
        }

        /// Writes the poll of a queued fd: multishot for edge (and for a quiet registration, see
        /// `UringSlot.isQuiet`), single-shot otherwise, under a fresh arm tag.
        @inline(__always)
        private func arm(_ fd: Int32) {
            let slot = registrations.slot(fd)
            slot.pointee.isQueued = false
            guard slot.pointee.isRegistered else { return }
            let tag = registrations.nextTag()
            let multishot = slot.pointee.trigger == .edge || slot.pointee.isQuiet
            ring.preparePoll(
                fd: fd, events: UringPollMask.interest(slot.pointee.events), multishot: multishot,
                userData: UringUserData.poll(fd: fd, tag: tag).rawValue)
            registrations.armed(fd, tag: tag, multishot: multishot, batch: batch)
        }

        /// Makes room for one SQE, submitting what is written if the SQ is full. False when
        /// the kernel took nothing (the caller leaves the rest queued for the wait's `enter`,
        /// which reports why).
        @inline(__always)
        private func reserveSubmission() -> Bool {
            if ring.submissionSpace > 0 { return true }
            _ = try? ring.enter(minComplete: 0, getEvents: false, timeoutNanoseconds: nil)
            return ring.submissionSpace > 0
        }

        // MARK: The ring

        /// Before the first wait and when the registrations outgrow the rings: enables the
        /// ring (the waiting thread becomes its single issuer) and grows the rings. Returns the
        /// events it already reported (completions left in a replaced ring).
        func prepareRing(into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno) -> Int {
            if !isEnabled {
                try ring.enable()
                isEnabled = true
            }
            return registrations.count > growthThreshold ? grow(into: buffer, written: 0) : 0
        }

        /// The registration count above which `ring` should grow: when a wait's completions
        /// (one per registration, plus removals and multishots) might not fit its CQ.
        static func growthThreshold(of ring: UringRing) -> Int {
            ring.completionEntries >= maximumCompletionEntries
                ? Int.max : ring.completionEntries - completionHeadroom
        }

        /// Resizes the rings to twice what the registrations need (capped at the kernel's
        /// maximum), or moves to a new ring of that size where the kernel cannot resize. A
        /// failure keeps the current ring, which stays correct (the CQ overflows into the
        /// kernel's list, the SQ is submitted in chunks), only slower, and stops the growing.
        private func grow(into buffer: UnsafeMutableBufferPointer<ReadyEvent>, written: Int) -> Int {
            var completions = 1
            while completions < 2 * (registrations.count + UringBackend.completionHeadroom) {
                completions <<= 1
            }
            completions = min(completions, UringBackend.maximumCompletionEntries)
            let submissions = min(4_096, max(64, completions / 8))
            var written = written
            resizing: if canResize {
                do {
                    try ring.resize(
                        submissionEntries: UInt32(submissions), completionEntries: UInt32(completions))
                } catch {
                    // EEXIST: another thread than the ring's issuer; the new ring below serves both.
                    if error.rawValue != EEXIST { canResize = false }
                    break resizing
                }
                growthThreshold = UringBackend.growthThreshold(of: ring)
                return written
            }
            do {
                written = try replaceRing(
                    into: buffer, written: written, submissionEntries: UInt32(submissions),
                    completionEntries: UInt32(completions))
                growthThreshold = UringBackend.growthThreshold(of: ring)
            } catch {
                growthThreshold = Int.max
            }
            return written
        }

        /// A new ring, enabled on this thread, in place of the current one: completions still
        /// in the old CQ are reported first, then every armed registration is queued to be
        /// armed on the new ring (a disarmed one-shot stays disarmed). Closing the old ring
        /// makes the kernel cancel its polls.
        func replaceRing(
            into buffer: UnsafeMutableBufferPointer<ReadyEvent>, written: Int,
            submissionEntries: UInt32? = nil, completionEntries: UInt32? = nil
        ) throws(Errno) -> Int {
            let fresh = try UringRing(
                submissionEntries: submissionEntries ?? UInt32(ring.submissionEntries),
                completionEntries: completionEntries ?? UInt32(ring.completionEntries))
            do {
                try fresh.enable()
            } catch {
                fresh.close()
                throw error
            }
            let written = ring.isMapped ? reap(into: buffer, written: written) : written
            ring.close()
            ring = fresh
            isEnabled = true
            registrations.forgetKernelState()
            return written
        }
    }
#endif
