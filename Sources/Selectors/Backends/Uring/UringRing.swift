#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// One io_uring instance: the rings `io_uring_setup` maps, and the calls on them.
    ///
    /// A thin owner of a `cselectors_uring` (CSelectorsUring.h, where the memory ordering of
    /// the shared ring indices is handled and documented). It knows nothing of fds or
    /// registrations; `UringBackend` decides what to submit and what completions mean.
    ///
    /// SAFETY: the C struct lives at a stable address allocated here and freed in `close`,
    /// and is only touched from the thread using the selector, as every method is.
    struct UringRing {
        private let ring: UnsafeMutablePointer<cselectors_uring>

        /// `io_uring_setup` with the flags the backend needs (single issuer, deferred task
        /// work, started disabled; see the C function), then the mappings.
        init(submissionEntries: UInt32, completionEntries: UInt32) throws(Errno) {
            ring = .allocate(capacity: 1)
            let result = cselectors_uring_setup(ring, submissionEntries, completionEntries)
            guard result == 0 else {
                ring.deallocate()
                throw Errno(rawValue: -result)
            }
        }

        /// Unmaps the rings, closes the ring fd (the kernel cancels what is still armed), and
        /// frees the struct. The ring must not be used afterwards.
        func close() {
            cselectors_uring_close(ring)
            ring.deallocate()
        }

        /// Whether the kernel has the features the backend relies on (`IORING_FEAT_NODROP`,
        /// `EXT_ARG`, `CQE_SKIP`, `SINGLE_MMAP`).
        var hasNeededFeatures: Bool { cselectors_uring_has_features(ring) != 0 }

        /// Whether `IORING_REGISTER_PROBE` lists `IORING_OP_POLL_ADD`, `POLL_REMOVE` and `ASYNC_CANCEL`.
        func supportsPoll() throws(Errno) -> Bool {
            let result = cselectors_uring_supports_poll(ring)
            if result < 0 { throw Errno(rawValue: -result) }
            return result == 1
        }

        /// `IORING_REGISTER_ENABLE_RINGS`: the calling thread becomes the only one that may
        /// submit or wait.
        func enable() throws(Errno) {
            let result = cselectors_uring_enable(ring)
            if result < 0 { throw Errno(rawValue: -result) }
        }

        /// `IORING_REGISTER_RESIZE_RINGS` (Linux 6.13) and a new mapping; on a throw the old
        /// rings are still in place, except after a failed `mmap` (then nothing is usable).
        func resize(submissionEntries: UInt32, completionEntries: UInt32) throws(Errno) {
            let result = cselectors_uring_resize(ring, submissionEntries, completionEntries)
            if result < 0 { throw Errno(rawValue: -result) }
        }

        /// False after a resize whose new mapping failed: nothing of the ring can be read.
        var isMapped: Bool { ring.pointee.ring_map != nil }

        var submissionEntries: Int { Int(ring.pointee.sq_entries) }
        var completionEntries: Int { Int(ring.pointee.cq_entries) }

        /// SQEs that can be written before the next `enter`.
        @inline(__always)
        var submissionSpace: Int { Int(cselectors_uring_space(ring)) }

        /// SQEs written (published or not) that the kernel has not taken yet.
        @inline(__always)
        var unsubmitted: Int { Int(cselectors_uring_unsubmitted(ring)) }

        /// Writes an `IORING_OP_POLL_ADD` SQE. The caller checked `submissionSpace`.
        @inline(__always)
        func preparePoll(fd: Int32, events: UInt32, multishot: Bool, userData: UInt64) {
            cselectors_uring_prepare_poll(ring, fd, events, multishot ? 1 : 0, userData)
        }

        /// Writes an `IORING_OP_ASYNC_CANCEL` SQE for the poll whose user data is `target` (see
        /// `cselectors_uring_prepare_remove` for why not `IORING_OP_POLL_REMOVE`).
        @inline(__always)
        func prepareRemove(target: UInt64, userData: UInt64) {
            cselectors_uring_prepare_remove(ring, target, userData)
        }

        /// `io_uring_enter`: submits every written SQE; with `getEvents`, runs the deferred
        /// work and waits for `minComplete` CQEs or `timeoutNanoseconds` (nil: no limit).
        /// Returns the call's result (SQEs submitted); throws its errno (`ETIME` included).
        @inline(__always)
        @discardableResult
        func enter(minComplete: Int, getEvents: Bool, timeoutNanoseconds: Int64?) throws(Errno) -> Int {
            let result = cselectors_uring_enter(
                ring, UInt32(clamping: minComplete), getEvents ? 1 : 0, timeoutNanoseconds ?? -1)
            if result < 0 { throw Errno(rawValue: -result) }
            return Int(result)
        }

        /// CQEs waiting to be read.
        @inline(__always)
        var completionsReady: Int { Int(cselectors_uring_completions_ready(ring)) }

        /// The CQE `offset` places after the head.
        @inline(__always)
        func completion(at offset: Int) -> cselectors_uring_completion {
            cselectors_uring_completion(ring, UInt32(truncatingIfNeeded: offset))
        }

        /// Hands `count` read CQEs back to the kernel.
        @inline(__always)
        func consume(_ count: Int) {
            cselectors_uring_consume(ring, UInt32(truncatingIfNeeded: count))
        }

        /// Whether deferred work is still queued, or completions wait in the overflow list:
        /// another `enter` with `getEvents` brings them in.
        @inline(__always)
        var hasPendingWork: Bool { cselectors_uring_work_pending(ring) != 0 }

        /// Whether completions wait in the kernel's overflow list (the CQ was full).
        @inline(__always)
        var hasOverflow: Bool { cselectors_uring_overflowed(ring) != 0 }
    }
#endif
