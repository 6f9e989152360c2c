#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// What the uring backend puts in an SQE's `user_data`, and reads back from its CQEs.
    ///
    /// A poll carries its fd (low 32 bits) and an *arm tag* (bits 32-62): a number the backend
    /// gives each poll it submits and remembers per fd. A completion whose tag is not the one
    /// its fd holds now belongs to a poll that was removed or superseded (by `modify`,
    /// `unregister`, or a register of the same number), and is dropped. The registration's
    /// generation is not needed here: the backend keeps the current token per fd.
    ///
    /// A removal (`IORING_OP_ASYNC_CANCEL`) carries bit 63 plus the user data of the poll it
    /// removes, so a failed removal says which poll to try again.
    struct UringUserData: Equatable {
        let rawValue: UInt64

        private static let removalBit: UInt64 = 1 << 63

        @inline(__always)
        init(rawValue: UInt64) { self.rawValue = rawValue }

        /// A poll of `fd` with arm tag `tag` (1 through 2^31 - 1).
        @inline(__always)
        static func poll(fd: Int32, tag: UInt32) -> UringUserData {
            UringUserData(rawValue: UInt64(tag) << 32 | UInt64(UInt32(bitPattern: fd)))
        }

        /// The removal of the poll `target`.
        @inline(__always)
        static func removal(of target: UringUserData) -> UringUserData {
            UringUserData(rawValue: target.rawValue | removalBit)
        }

        @inline(__always)
        var isRemoval: Bool { rawValue & UringUserData.removalBit != 0 }

        /// For a removal: the poll it removes.
        @inline(__always)
        var removedPoll: UringUserData { UringUserData(rawValue: rawValue & ~UringUserData.removalBit) }

        @inline(__always)
        var fd: Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: rawValue)) }

        @inline(__always)
        var tag: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) }
    }

    /// Conversions between `Events` and the poll(2) masks of `IORING_OP_POLL_ADD`.
    enum UringPollMask {
        /// What a poll asks for. The kernel adds `POLLERR`, `POLLHUP`, `POLLNVAL` and
        /// `POLLRDHUP` to every poll (io_uring/poll.c, `IO_POLL_UNMASK`), asked for or not.
        @inline(__always)
        static func interest(_ events: Events) -> UInt32 {
            (events.contains(.read) ? UInt32(POLLIN) : 0) | (events.contains(.write) ? UInt32(POLLOUT) : 0)
        }

        private static let readable =
            UInt32(POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR | POLLNVAL)
            | rdhup
        private static let writable = UInt32(POLLOUT | POLLWRNORM | POLLWRBAND | POLLHUP | POLLERR | POLLNVAL)
        /// `POLLRDHUP` (0x2000; Glibc names it only under _GNU_SOURCE).
        static let rdhup: UInt32 = 0x2000

        /// A completion's mask as readiness. Errors and hang-ups count as both, as on epoll.
        /// `POLLRDHUP` (the peer shut down its sending side) counts as readable only: the
        /// socket can still be written to, and epoll tells a write-only registration nothing
        /// of it either.
        @inline(__always)
        static func readiness(_ mask: UInt32) -> Events {
            var events: Events = []
            if mask & readable != 0 { events.insert(.read) }
            if mask & writable != 0 { events.insert(.write) }
            return events
        }
    }
#endif
