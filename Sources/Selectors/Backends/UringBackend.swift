#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

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
    /// Level and one-shot results are exact at the wait, as epoll's are. The ring is set up with
    /// `IORING_SETUP_DEFER_TASKRUN`, so a wake-up only queues work that runs inside this
    /// thread's next `io_uring_enter`: nothing completes behind the caller's back. A poll woken
    /// while the caller ran keeps the wake-up's mask, which the caller may have made stale
    /// since; `recheckWaitingPolls` and `settle` deal with that. The kernel runs about 20 queued
    /// items per call and sets `IORING_SQ_TASKRUN` while more wait, so the wait enters again
    /// (without waiting) until none are left.
    ///
    /// Stale completions: every poll carries an arm tag in its user data (`UringUserData`),
    /// and the backend keeps the tag of each fd's current poll. `modify`, `remove` and a new
    /// registration of the same number retire the old tag and queue the old poll's removal
    /// (`IORING_OP_ASYNC_CANCEL`, which, unlike `IORING_OP_POLL_REMOVE`, also reaches a poll
    /// whose completion is already queued), so whatever the old poll still completes is
    /// recognised and dropped. The selector's generation check then drops
    /// events of registrations replaced while a batch is being dispatched, as on every backend.
    ///
    /// What differs from epoll, and why:
    /// - An edge readiness that arose while the caller ran is reported by the next wait even
    ///   if the caller used it up meanwhile (read the data before the wait): the wake-up did
    ///   happen, and the multishot poll's result is that wake-up's mask. epoll checks the fd
    ///   again as it reports it and drops it. The reader finds `EAGAIN`, which an edge reader
    ///   handles anyway; a timed wait ends early for it. Checking again would mean replacing
    ///   every edge poll woken while the caller ran, which would report readiness a handler
    ///   left in place at every such wait.
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
    ///   kernel releases the old ring's polls on its own schedule. An edge registration whose
    ///   readiness is still in place (data left unread) is then reported once more: the new
    ///   poll cannot tell that readiness from one that arose during the move, and missing the
    ///   latter would leave its reader waiting. The same holds when a wait's completions
    ///   outgrow the ring on a kernel without `IORING_REGISTER_RESIZE_RINGS` (before 6.13).
    ///
    /// Sizes: the CQ starts at 256 entries and grows (`IORING_REGISTER_RESIZE_RINGS`, Linux
    /// 6.13; elsewhere by moving to a new ring) to twice the registrations, so a wait's
    /// completions fit; the SQ grows along, and a wait with more changes than the SQ holds
    /// submits them in chunks. A completion the CQ has no room for waits in the kernel's
    /// overflow list (`IORING_FEAT_NODROP`) and is brought in by the next call.
    final class UringBackend: PollingBackend {
        // Confined to the selector's thread; see Selector for why exclusivity is unchecked.
        @exclusivity(unchecked) var ring: UringRing
        @exclusivity(unchecked) var registrations = UringRegistrations()
        /// Counts waits, so a slot can tell whether it is in the current batch.
        @exclusivity(unchecked) var batch: UInt64 = 0
        /// Whether the ring was enabled (its first wait makes the waiting thread its issuer).
        @exclusivity(unchecked) var isEnabled = false
        /// False once a resize failed: the kernel lacks `IORING_REGISTER_RESIZE_RINGS`.
        @exclusivity(unchecked) var canResize = true
        /// The registration count above which the rings grow (see `grow`), or `Int.max`.
        @exclusivity(unchecked) var growthThreshold: Int
        /// Waits in a row that reported nothing but left work queued (see `wait`).
        @exclusivity(unchecked) private var idleRounds = 0

        /// The most armed level and one-shot polls `recheckWaitingPolls` replaces.
        private static let recheckLimit = 4

        /// A ring of `completionEntries` CQEs and `submissionEntries` SQEs (powers of two; the
        /// kernel rounds up). With `growsRings` false the sizes stay, which the tests use to
        /// fill the CQ.
        init(submissionEntries: UInt32 = 64, completionEntries: UInt32 = 256, growsRings: Bool = true)
            throws(Errno)
        {
            ring = try UringRing(submissionEntries: submissionEntries, completionEntries: completionEntries)
            growthThreshold = growsRings ? UringBackend.growthThreshold(of: ring) : Int.max
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
            registrations.deallocate()
        }

        /// Submits the queued changes and waits, in one `io_uring_enter`; then reads the
        /// completions. Returns 0 (after a timeout, or when the wait only had bookkeeping to
        /// do) and lets the selector wait again for the time left, as for any early wake-up.
        func wait(timeout: WaitTimeout?, into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno)
            -> Int
        {
            batch &+= 1
            var written = 0
            if !isEnabled || registrations.count > growthThreshold { written = try prepareRing(into: buffer) }
            if ring.hasPendingWork {
                // Wake-ups came while the caller ran: see `recheckWaitingPolls` for why their
                // level and one-shot results cannot be taken as they are.
                if registrations.quietArmed == 0 && registrations.waiting.count <= UringBackend.recheckLimit {
                    recheckWaitingPolls()
                } else {
                    written = try settle(into: buffer, written: written)
                }
            }
            // Each removal produces exactly one completion (the removed poll's -ECANCELED, or
            // the removal's own failure), so waiting for one more than those ends on a real
            // event, not on the bookkeeping.
            let removals = registrations.hasQueuedWork ? writeQueued(arms: true) : 0
            let blocks = written == 0 && ring.completionsReady == 0 && (timeout?.nanoseconds ?? 1) > 0
            var interrupted = false
            do {
                try ring.enter(
                    minComplete: blocks ? removals + 1 : 0, getEvents: true,
                    timeoutNanoseconds: blocks ? timeout?.nanoseconds : 0)
            } catch {
                switch error.rawValue {
                case ETIME, EBUSY, EAGAIN: break
                case EINTR: interrupted = true
                case EEXIST:
                    // Called from a thread other than the ring's issuer (the selector moved):
                    // move to a new ring, whose issuer this thread becomes. The selector calls
                    // again, and that wait submits everything there.
                    return try replaceRing(into: buffer, written: written)
                default: throw error
                }
            }
            written = reap(into: buffer, written: written)
            if ring.hasPendingWork || !registrations.removals.isEmpty {
                written = try collect(into: buffer, written: written)
            }
            if written > 0 || !(registrations.hasQueuedWork || ring.unsubmitted > 0) {
                idleRounds = 0
                if written == 0 && interrupted { throw .interrupted }
                return written
            }
            // Nothing to report, but completions left work (a poll to arm again, a removal to
            // retry, SQEs the kernel did not take): the selector's next call submits it. Three
            // such calls in a row at most in practice (see `UringSlot.isQuiet`); many more
            // means the kernel keeps refusing what is submitted.
            idleRounds += 1
            guard idleRounds < 64 else { throw Errno(rawValue: EAGAIN) }
            if interrupted { throw .interrupted }
            return 0
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
            var index = registrations.waiting.count
            while index > 0 {
                index -= 1
                let fd = registrations.waiting[index]
                registrations.disarm(fd)
                registrations.queueArm(fd)
            }
        }

        /// Runs, without waiting, the work wake-ups queued while the caller ran, together with
        /// the queued changes, when `recheckWaitingPolls` would replace too many polls. The
        /// level and one-shot results of polls armed before this wait are only hints: the fd
        /// is armed again, in the `io_uring_enter` that follows, which checks its readiness
        /// exactly. One call more than epoll spends, for the same exact answer.
        private func settle(into buffer: UnsafeMutableBufferPointer<ReadyEvent>, written: Int) throws(Errno)
            -> Int
        {
            var written = written
            var rounds = 0
            repeat {
                rounds += 1
                _ = writeQueued(arms: true)
                do {
                    try enterWithoutWaiting()
                } catch  where error.rawValue == EEXIST {
                    return try replaceRing(into: buffer, written: written)
                }
                let brought = ring.completionsReady
                written = reap(into: buffer, written: written, settling: true)
                guard UringBackend.goesOn(rounds: rounds, brought: brought, ring: ring) else { break }
            } while true
            return written
        }

        /// Submits what is queued and collects what has completed, without waiting; the
        /// errors that only mean "nothing more for now" (or a signal) are not errors here.
        private func enterWithoutWaiting() throws(Errno) {
            do {
                try ring.enter(minComplete: ring.completionEntries, getEvents: true, timeoutNanoseconds: 0)
            } catch {
                switch error.rawValue {
                case ETIME, EBUSY, EAGAIN, EINTR: return
                default: throw error
                }
            }
        }

        /// After the completions were read: enters again (without waiting) while the kernel
        /// has deferred work queued, completions in its overflow list, or a removal is to be
        /// retried, so everything that happened by the wait is in this batch.
        private func collect(into buffer: UnsafeMutableBufferPointer<ReadyEvent>, written: Int) throws(Errno)
            -> Int
        {
            var written = written
            var rounds = 0
            while rounds < UringBackend.workRounds && (ring.hasPendingWork || !registrations.removals.isEmpty)
            {
                rounds += 1
                // Only removals: a poll armed now could complete for an fd whose handler has
                // not run yet. The level re-arms wait for the next wait.
                _ = writeQueued(arms: false)
                try enterWithoutWaiting()
                let before = written
                let brought = ring.completionsReady
                written = reap(into: buffer, written: written)
                if written == buffer.count && written == before && ring.completionsReady > 0 { break }
                if !UringBackend.goesOn(rounds: rounds, brought: brought, ring: ring) { break }
                rounds = min(rounds, UringBackend.workRounds - 1)  // overflow: keep bringing it in
            }
            return written
        }

        /// Calls after the first that a wait makes for queued work: one call with a large
        /// `min_complete` runs all of it, so more only chase wake-ups that keep arriving, which
        /// the next wait serves as well (a busy peer must not keep this one from returning).
        private static let workRounds = 3

        /// Whether another call is worth it: it brought completions in, and either the kernel
        /// still holds some in its overflow list (a small CQ brings them back a CQ at a time),
        /// or work is queued and the rounds are not spent. A call that brings nothing in ends
        /// it: `IORING_SQ_TASKRUN` can be set with nothing queued (a resize sets it, and only
        /// running queued work clears it).
        private static func goesOn(rounds: Int, brought: Int, ring: UringRing) -> Bool {
            guard brought > 0 else { return false }
            return ring.hasOverflow || (rounds < workRounds && ring.hasPendingWork)
        }
    }
#endif
