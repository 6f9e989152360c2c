#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// Linux `epoll(7)`: level by default, `EPOLLET` for edge, `EPOLLONESHOT` for one-shot.
    ///
    /// The token travels in `epoll_event.data.u64`, so a ready event names its registration
    /// without a lookup. Cost per wait grows with the number of ready fds only. Both flags do
    /// in the kernel what `Trigger` promises: `EPOLL_CTL_MOD` re-checks readiness (so a modify
    /// re-arms, and reports what is ready), and a one-shot fd stays disarmed until it.
    final class EpollBackend: PollingBackend {
        // A var only so `replaceInterestSet` can swap it; unchecked for the reason Selector gives.
        @exclusivity(unchecked) private var epollFD: Int32
        @exclusivity(unchecked) private var kernelEvents: UnsafeMutableBufferPointer<epoll_event>

        init() throws(Errno) {
            epollFD = try SystemCall.once { epoll_create1(Int32(EPOLL_CLOEXEC)) }
            kernelEvents = .allocate(capacity: 64)
        }

        // Inlined into their protocol witnesses, as `wait` is (one call per registration).
        @inline(__always)
        func add(fd: Int32, events: Events, trigger: Trigger, token: UInt64) throws(Errno) {
            try control(EPOLL_CTL_ADD, fd, EpollBackend.interest(events, trigger), token)
        }

        @inline(__always)
        func modify(fd: Int32, from old: Interest, to new: Interest, token: UInt64) throws(Errno) {
            try control(EPOLL_CTL_MOD, fd, EpollBackend.interest(new.events, new.trigger), token)
        }

        func remove(fd: Int32, events: Events) throws(Errno) {
            try control(EPOLL_CTL_DEL, fd, 0, 0)
        }

        // Inlined into its protocol witness, which then is the implementation: the selector's
        // call through `any PollingBackend` reaches it without a second call (callgrind: 9
        // instructions per wait).
        @inline(__always)
        func wait(timeout: WaitTimeout?, into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno)
            -> Int
        {
            if kernelEvents.count < buffer.count { growKernelEvents(to: buffer.count) }
            // The selector's ready buffer has one entry per registration, so its count fits.
            let capacity = Int32(truncatingIfNeeded: buffer.count)
            let count = Int(
                try SystemCall.once {
                    epoll_wait(epollFD, kernelEvents.baseAddress, capacity, timeout?.milliseconds ?? -1)
                })
            for index in 0..<count {
                let event = kernelEvents[index]
                buffer[index] = ReadyEvent(
                    token: event.data.u64, events: EpollBackend.readiness(event.events))
            }
            return count
        }

        @inline(never)
        private func growKernelEvents(to count: Int) {
            kernelEvents.deallocate()
            kernelEvents = .allocate(capacity: count)
        }

        let mayKeepGhosts = true
        let closeRemovesRegistration = true

        /// A new epoll instance (`epoll_create1`) in place of the old one, which is closed: the
        /// only way to drop a ghost, since `EPOLL_CTL_DEL` can no longer name its file.
        func replaceInterestSet() throws(Errno) {
            let fresh = try SystemCall.once { epoll_create1(Int32(EPOLL_CLOEXEC)) }
            SystemCall.close(epollFD)
            epollFD = fresh
        }

        func close() {
            SystemCall.close(epollFD)
            kernelEvents.deallocate()
        }

        @inline(__always)
        private func control(_ operation: Int32, _ fd: Int32, _ flags: UInt32, _ token: UInt64) throws(Errno)
        {
            // EPOLL_CTL_DEL ignores the event, but kernels before 2.6.9 required a non-null one.
            var event = epoll_event()
            event.events = flags
            event.data.u64 = token
            _ = try SystemCall.once { epoll_ctl(epollFD, operation, fd, &event) }
        }

        private static func interest(_ events: Events, _ trigger: Trigger) -> UInt32 {
            let mode: UInt32
            switch trigger {
            case .level: mode = 0
            case .edge: mode = EPOLLET.rawValue
            case .oneShot: mode = EPOLLONESHOT.rawValue
            }
            return mode | (events.contains(.read) ? EPOLLIN.rawValue : 0)
                | (events.contains(.write) ? EPOLLOUT.rawValue : 0)
        }

        /// Anything other than plain `EPOLLOUT` (data, `EPOLLHUP`, `EPOLLERR`) counts as readable,
        /// anything other than plain `EPOLLIN` as writable, so errors reach whichever handler runs.
        @inline(__always)
        private static func readiness(_ flags: UInt32) -> Events {
            var events: Events = []
            if flags & ~EPOLLOUT.rawValue != 0 { events.insert(.read) }
            if flags & ~EPOLLIN.rawValue != 0 { events.insert(.write) }
            return events
        }
    }
#endif
