#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    import CSelectors

    /// Linux io_uring as a readiness interface: one poll request (`IORING_OP_POLL_ADD`) per
    /// registration, and every change since the last wait submitted with the wait itself, in
    /// one `io_uring_enter`. `add`, `modify` and `remove` make no system call.
    ///
    /// How the trigger modes map (see `Trigger`):
    /// - **edge**: a multishot poll (`IORING_POLL_ADD_MULTI`). It completes when it is armed on
    ///   a ready fd, then on each wake-up of the fd that finds it ready, which is what epoll's
    ///   `EPOLLET` reports. When the kernel ends it (no `IORING_CQE_F_MORE`: the CQ was full,
    ///   or the file cannot be polled), it is armed again at the next wait, which reports
    ///   whatever is ready then.
    /// - **level**: a single-shot poll, armed again at the next wait after each completion.
    ///   The kernel checks readiness as it arms a poll, so a fd still ready completes at once:
    ///   every wait reports it while it is ready, as `epoll_wait` does. The re-arm rides with
    ///   the wait, so it costs no system call. (A multishot poll cannot do this: it fires on
    ///   wake-ups, and a readiness left in place causes none.)
    /// - **one-shot**: a single-shot poll, not armed again until `modify`.
    ///
    /// Results are computed when they are reported. The ring is set up with
    /// `IORING_SETUP_DEFER_TASKRUN`, so a poll's wake-up only queues work that runs inside the
    /// next `io_uring_enter`, which checks the fd's readiness then: data that arrived and was
    /// read again before the wait is not reported, as on epoll. The kernel runs about 20 such
    /// items per call and sets `IORING_SQ_TASKRUN` when more are queued; the wait then enters
    /// again, without waiting, until none are left (also after a removal released a file whose
    /// peer is watched here, so its hang-up is in the same batch).
    ///
    /// Stale completions: every poll carries an arm tag in its user data (`UringUserData`),
    /// and the backend keeps the tag of each fd's current poll. `modify`, `remove` and a new
    /// registration of the same number retire the old tag and queue the old poll's removal
    /// (`IORING_OP_POLL_REMOVE`), so whatever the old poll still completes is recognised and
    /// dropped. A removal that finds the poll's completion running (`EALREADY`) is tried
    /// again. The selector's generation check then drops events of registrations replaced
    /// while a batch is being dispatched, as on every backend.
    ///
    /// What differs from epoll, and why:
    /// - A registration is armed at the next wait, not at `register`: a closed fd is accepted
    ///   and reported ready (`EBADF` completes the poll) at the next wait, as poll(2) does,
    ///   and a regular file too (always ready).
    /// - A poll holds a reference to its file. A file whose last descriptor is closed while
    ///   it is registered stays open until the registration is unregistered (or modified) and
    ///   the next wait runs; after that wait its peer sees the hang-up. Unregister before
    ///   closing and the file closes at the next wait.
    /// - Each ring has one issuer thread (`IORING_SETUP_SINGLE_ISSUER`, which deferred task
    ///   work needs): the first thread that waits. A selector moved to another thread gets a
    ///   new ring there at its next wait, with every armed registration armed again; the
    ///   kernel releases the old ring's polls on its own schedule.
    ///
    /// Sizes: the CQ starts at 256 entries and grows (`IORING_REGISTER_RESIZE_RINGS`, Linux
    /// 6.13; elsewhere by moving to a new ring) to twice the registrations, so a wait's
    /// completions fit; the SQ grows along, and a wait with more changes than the SQ holds
    /// submits them in chunks. A completion the CQ has no room for waits in the kernel's
    /// overflow list (`IORING_FEAT_NODROP`) and is brought in by the next call.
    final class UringBackend: PollingBackend {
        // Confined to the selector's thread; see Selector for why exclusivity is unchecked.
        @exclusivity(unchecked) private var ring: UringRing
        @exclusivity(unchecked) private var registrations = UringRegistrations()
        /// Spare queues swapped with the registrations' ones, so steady state allocates nothing.
        @exclusivity(unchecked) private var armScratch: [Int32] = []
        @exclusivity(unchecked) private var removalScratch: [UringUserData] = []
        /// Counts waits, so a slot can tell whether it is in the current batch.
        @exclusivity(unchecked) private var batch: UInt64 = 0
        /// The thread the ring was enabled on (its single issuer), once enabled.
        @exclusivity(unchecked) private var issuer: pthread_t?
        /// False once a resize failed: the kernel lacks `IORING_REGISTER_RESIZE_RINGS`.
        @exclusivity(unchecked) private var canResize = true
        @exclusivity(unchecked) private var growsRings: Bool

        /// The largest CQ the kernel makes (`IORING_MAX_CQ_ENTRIES`).
        private static let maximumCompletionEntries = 65_536
        /// Completions beyond one per registration that a wait may see (removals, multishots).
        private static let completionHeadroom = 64

        /// A ring of `completionEntries` CQEs and `submissionEntries` SQEs (powers of two; the
        /// kernel rounds up). With `growsRings` false the sizes stay, which the tests use to
        /// fill the CQ.
        init(submissionEntries: UInt32 = 64, completionEntries: UInt32 = 256, growsRings: Bool = true)
            throws(Errno)
        {
            ring = try UringRing(submissionEntries: submissionEntries, completionEntries: completionEntries)
            self.growsRings = growsRings
        }

        func add(fd: Int32, events: Events, trigger: Trigger, token: UInt64) throws(Errno) {
            registrations.add(fd: fd, events: events, trigger: trigger, token: token)
        }

        func modify(fd: Int32, from old: Interest, to new: Interest, token: UInt64) throws(Errno) {
            registrations.modify(fd: fd, events: new.events, trigger: new.trigger, token: token)
        }

        func remove(fd: Int32, events: Events) throws(Errno) {
            registrations.remove(fd: fd)
        }

        func close() {
            ring.close()
        }

        func wait(timeout: WaitTimeout?, into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno)
            -> Int
        {
            batch &+= 1
            var written = try prepareRing(into: buffer)
            if ring.hasPendingWork {
                // Wake-ups came while the caller ran; see `recheck` and `settle` for why their
                // level and one-shot results cannot be taken as they are.
                if registrations.quietArmed == 0 && registrations.waiting.count <= UringBackend.recheckLimit {
                    recheckWaitingPolls()
                } else {
                    written = try settle(into: buffer, written: written)
                }
            }
            var limit = timeout
            let deadline = timeout.map { $0.nanoseconds > 0 ? MonotonicClock.now() + $0.nanoseconds : 0 }
            var rounds = 0
            while true {
                // Each removal produces exactly one completion (the removed poll's -ECANCELED,
                // or the removal's own failure), so a wait for one more than those ends on a
                // real event, not on the bookkeeping.
                let removals = writeQueued(arms: true)
                let blocks = written == 0 && ring.completionsReady == 0 && (limit?.nanoseconds ?? 1) > 0
                var interrupted = false
                do {
                    try ring.enter(
                        minComplete: blocks ? removals + 1 : 0, getEvents: true,
                        timeoutNanoseconds: blocks ? limit?.nanoseconds : 0)
                } catch {
                    switch error.rawValue {
                    case ETIME, EBUSY, EAGAIN: break
                    case EINTR: interrupted = true
                    case EEXIST:
                        // Not the ring's issuer after all (a thread id reused): move to a new ring.
                        written = try replaceRing(into: buffer, written: written)
                        continue
                    default: throw error
                    }
                }
                written = try collect(into: buffer, written: written)
                if written > 0 { return written }
                if interrupted { throw .interrupted }
                // Nothing to report. If completions left work (a poll to arm again, a removal
                // to retry, SQEs the kernel did not take), submit it for the time left;
                // otherwise the selector decides whether to wait again.
                guard registrations.hasQueuedWork || ring.unsubmitted > 0 else { return 0 }
                rounds += 1
                // Three rounds at most in practice (see `UringSlot.isQuiet`); many more means
                // the kernel keeps refusing what is submitted.
                guard rounds < 64 else { throw Errno(rawValue: EAGAIN) }
                guard let deadline else { continue }
                guard deadline > 0 else { return 0 }
                let remaining = deadline - MonotonicClock.now()
                guard remaining > 0 else { return 0 }
                limit = WaitTimeout(nanoseconds: remaining)
            }
        }

        /// When wake-ups were queued while the caller ran (the ring's `IORING_SQ_TASKRUN` was
        /// set as the wait began) and few level or one-shot polls are armed: replaces each of
        /// them with a new poll, in this wait's own `io_uring_enter`.
        ///
        /// Why: a poll woken keeps the wake-up's own mask, and a single-shot poll leaves the
        /// fd's wait queue at its first wake-up (io_uring/poll.c). A level or one-shot result
        /// taken from a wake-up that came before this wait may therefore be stale (the caller
        /// read the data since) or partial (the fd became writable too, unseen), where epoll
        /// would check the fd at the wait. Arming a poll checks readiness then, which is exact;
        /// the old polls' completions carry retired tags and are dropped. Which polls were woken
        /// is not known before their work runs, so all of them are replaced: two SQEs each,
        /// worth it while they are few (`recheckLimit`); otherwise `settle` spends a call.
        /// Edge results are taken as they are: each stands for a wake-up that did happen.
        private func recheckWaitingPolls() {
            let count = registrations.waiting.count
            for index in stride(from: count - 1, through: 0, by: -1) {
                let fd = registrations.waiting[index]
                registrations.disarm(fd)
                registrations.queueArm(fd)
            }
        }

        /// The most armed level and one-shot polls `recheckWaitingPolls` replaces.
        private static let recheckLimit = 4

        /// Runs, without waiting, the work wake-ups queued while the caller ran, together with
        /// the queued changes, when `recheckWaitingPolls` would replace too many polls. The
        /// level and one-shot results of polls armed before this wait are only hints: the fd
        /// is armed again, in the wait that follows, which checks its readiness exactly. One
        /// call more than epoll spends, for the same exact answer.
        private func settle(into buffer: UnsafeMutableBufferPointer<ReadyEvent>, written: Int) throws(Errno)
            -> Int
        {
            var written = written
            var rounds = 0
            repeat {
                rounds += 1
                _ = writeQueued(arms: true)
                do {
                    try ring.enter(
                        minComplete: ring.completionEntries, getEvents: true, timeoutNanoseconds: 0)
                } catch {
                    switch error.rawValue {
                    case ETIME, EBUSY, EAGAIN, EINTR: break
                    case EEXIST: return try replaceRing(into: buffer, written: written)
                    default: throw error
                    }
                }
                written = reap(into: buffer, written: written, settling: true)
            } while rounds < 8 + buffer.count && ring.hasPendingWork
            return written
        }

        // MARK: Submission

        /// Writes the queued removals and, with `arms`, the queued polls into the SQ, submitting
        /// without waiting whenever the SQ is full. Returns how many removals were written.
        /// Whatever cannot be written (the kernel refused a chunk) stays queued.
        private func writeQueued(arms: Bool) -> Int {
            var written = 0
            if !registrations.removals.isEmpty {
                registrations.swapRemovals(with: &removalScratch)
                for (index, poll) in removalScratch.enumerated() {
                    guard reserveSubmission() else {
                        for rest in removalScratch[index...] { registrations.retryRemoval(of: rest) }
                        break
                    }
                    ring.prepareRemove(
                        target: poll.rawValue, userData: UringUserData.removal(of: poll).rawValue)
                    written += 1
                }
                removalScratch.removeAll(keepingCapacity: true)
            }
            if arms && !registrations.armQueue.isEmpty {
                registrations.swapArmQueue(with: &armScratch)
                for (index, fd) in armScratch.enumerated() where registrations[fd].isQueued {
                    guard reserveSubmission() else {
                        for rest in armScratch[index...] where registrations[rest].isQueued {
                            registrations.requeueArm(rest)
                        }
                        break
                    }
                    arm(fd)
                }
                armScratch.removeAll(keepingCapacity: true)
            }
            return written
        }

        /// Writes the poll of a queued fd: multishot for edge (and for a quiet registration, see
        /// `UringSlot.isQuiet`), single-shot otherwise, under a fresh arm tag.
        @inline(__always)
        private func arm(_ fd: Int32) {
            let slot = registrations.update(fd) { slot in
                slot.isQueued = false
                return slot
            }
            guard slot.isRegistered else { return }
            let tag = registrations.nextTag()
            let multishot = slot.trigger == .edge || slot.isQuiet
            ring.preparePoll(
                fd: fd, events: UringPollMask.interest(slot.events), multishot: multishot,
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

        // MARK: Completion

        /// Reads every completion, then enters again (without waiting) while the kernel has
        /// deferred work queued, completions in its overflow list, or a removal is to be
        /// retried, so everything that happened by the wait is in this batch.
        private func collect(into buffer: UnsafeMutableBufferPointer<ReadyEvent>, written: Int) throws(Errno)
            -> Int
        {
            var written = reap(into: buffer, written: written)
            var rounds = 0
            // Each round moves at least one completion (a small CQ overflows into the kernel's
            // list and comes back a CQ at a time); the bound stops a peer that wakes an fd
            // faster than this loop reads from keeping the wait from ever returning.
            while rounds < 8 + buffer.count && (ring.hasPendingWork || !registrations.removals.isEmpty) {
                rounds += 1
                // Only removals: a poll armed now could complete for an fd whose handler has
                // not run yet. The level re-arms wait for the next wait.
                _ = writeQueued(arms: false)
                do {
                    try ring.enter(
                        minComplete: ring.completionEntries, getEvents: true, timeoutNanoseconds: 0)
                } catch {
                    switch error.rawValue {
                    case ETIME, EBUSY, EAGAIN, EINTR: break
                    default: throw error
                    }
                }
                let before = written
                written = reap(into: buffer, written: written)
                if written == buffer.count && written == before && ring.completionsReady > 0 { break }
            }
            return written
        }

        /// Handles the completions in the CQ, in order, and hands them back to the kernel.
        /// Stops early only when the buffer is full and a completion needs a new entry (it is
        /// read at the next wait).
        @inline(__always)
        private func reap(
            into buffer: UnsafeMutableBufferPointer<ReadyEvent>, written start: Int, settling: Bool = false
        ) -> Int {
            let ready = ring.completionsReady
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

        /// One completion: dropped if stale, else turned into readiness and the fd's next
        /// step (see the class comment); while `settling`, a level or one-shot result of a poll
        /// armed before this wait only leads to a new poll (see `settle`). False only when it
        /// needs a buffer entry and none is left; then nothing was changed.
        @inline(__always)
        private func handle(
            _ completion: cselectors_uring_completion, into buffer: UnsafeMutableBufferPointer<ReadyEvent>,
            written: inout Int, settling: Bool
        ) -> Bool {
            let data = UringUserData(rawValue: completion.user_data)
            if data.isRemoval {
                // Failures only (success posts nothing). ENOENT: the poll had completed.
                // EALREADY: its completion was running; it may still be armed (multishot, or a
                // single-shot that found nothing and armed itself again).
                if completion.result == -EALREADY { registrations.retryRemoval(of: data.removedPoll) }
                return true
            }
            let fd = data.fd
            guard registrations.contains(fd) else { return true }
            let slot = registrations[fd]
            guard slot.isRegistered, slot.tag == data.tag else {
                // Stale: removed or superseded. If it ended, a retried removal is not needed.
                if completion.more == 0 { registrations.forgetRemoval(of: data) }
                return true
            }
            let isFinal = completion.more == 0
            let ready =
                completion.result >= 0
                ? UringPollMask.readiness(UInt32(bitPattern: completion.result)) : Events.all
            let wanted = !ready.intersection(slot.events).isEmpty
            if settling && slot.trigger != .edge && slot.armBatch != batch {
                // A hint (see `settle`): arm a single-shot poll again, or a quiet one for
                // POLLRDHUP alone.
                if isFinal || wanted {
                    if isFinal { registrations.retire(fd) } else { registrations.disarm(fd) }
                    registrations.update(fd) { $0.isQuiet = !wanted }
                    registrations.queueArm(fd)
                }
                return true
            }
            if wanted && slot.batch != batch && written == buffer.count { return false }
            if isFinal { registrations.retire(fd) }
            var rearm = false
            switch slot.trigger {
            case .edge:
                // A multishot poll the kernel ended is armed again; one that ended on an error
                // (EBADF: the fd was closed before it was armed) reported it once, and stops.
                rearm = isFinal && completion.result >= 0
            case .level, .oneShot:
                if wanted {
                    // A quiet multishot poll is replaced by a single-shot one again.
                    if slot.isMultishot && !isFinal { registrations.disarm(fd) }
                    registrations.update(fd) { $0.isQuiet = false }
                    rearm = slot.trigger == .level
                } else if isFinal {
                    // POLLRDHUP alone, for a `.write` registration: see `UringSlot.isQuiet`.
                    registrations.update(fd) { $0.isQuiet = true }
                    rearm = true
                }
            }
            if wanted {
                let (batch, position) = (self.batch, written)
                let merged = registrations.update(fd) { slot -> Int32? in
                    if slot.batch == batch { return slot.position }
                    slot.batch = batch
                    slot.position = Int32(position)
                    return nil
                }
                if let merged {
                    buffer[Int(merged)].events.formUnion(ready)
                } else {
                    buffer[written] = ReadyEvent(token: slot.token, events: ready)
                    written += 1
                }
            }
            if rearm { registrations.queueArm(fd) }
            return true
        }

        // MARK: The ring

        /// Before each wait: enables the ring on its first wait (this thread becomes its
        /// issuer), moves to a new ring if the selector is now used from another thread, and
        /// grows the rings with the registrations. Returns the events it already reported
        /// (completions left in a replaced ring).
        @inline(__always)
        private func prepareRing(into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno) -> Int {
            var written = 0
            if let issuer {
                if pthread_equal(issuer, pthread_self()) == 0 {
                    written = try replaceRing(into: buffer, written: 0)
                }
            } else {
                try ring.enable()
                issuer = pthread_self()
            }
            if growsRings
                && registrations.count + UringBackend.completionHeadroom > ring.completionEntries
                && ring.completionEntries < UringBackend.maximumCompletionEntries
            {
                written = grow(into: buffer, written: written)
            }
            return written
        }

        /// Resizes the rings to twice what the registrations need (capped at the kernel's
        /// maximum), or moves to a new ring of that size where the kernel cannot resize. A
        /// failure keeps the current ring, which stays correct (the CQ overflows into the
        /// kernel's list, the SQ is submitted in chunks), only slower.
        private func grow(into buffer: UnsafeMutableBufferPointer<ReadyEvent>, written: Int) -> Int {
            var completions = 1
            while completions < 2 * (registrations.count + UringBackend.completionHeadroom) {
                completions <<= 1
            }
            completions = min(completions, UringBackend.maximumCompletionEntries)
            let submissions = min(4_096, max(64, completions / 8))
            if canResize {
                do {
                    try ring.resize(
                        submissionEntries: UInt32(submissions), completionEntries: UInt32(completions))
                    return written
                } catch {
                    canResize = false
                }
            }
            do {
                return try replaceRing(
                    into: buffer, written: written, submissionEntries: UInt32(submissions),
                    completionEntries: UInt32(completions))
            } catch {
                growsRings = false
                return written
            }
        }

        /// A new ring, enabled on this thread, in place of the current one: completions still
        /// in the old CQ are reported first, then every armed registration is queued to be
        /// armed on the new ring (a disarmed one-shot stays disarmed). Closing the old ring
        /// makes the kernel cancel its polls.
        private func replaceRing(
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
            issuer = pthread_self()
            registrations.forgetKernelState()
            return written
        }
    }
#endif
