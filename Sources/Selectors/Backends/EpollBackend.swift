#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    import CSelectors

    /// Linux `epoll(7)`, level-triggered.
    ///
    /// The token travels in `epoll_event.data.u64`, so a ready event names its registration
    /// without a lookup. Cost per wait grows with the number of ready fds only.
    final class EpollBackend: PollingBackend {
        private let epollFD: Int32
        @exclusivity(unchecked) private var kernelEvents: UnsafeMutableBufferPointer<epoll_event>

        init() throws(Errno) {
            epollFD = try SystemCall.once { epoll_create1(Int32(EPOLL_CLOEXEC)) }
            kernelEvents = .allocate(capacity: 64)
        }

        func add(fd: Int32, events: Events, token: UInt64) throws(Errno) {
            try control(EPOLL_CTL_ADD, fd, events, token)
        }

        func modify(fd: Int32, from oldEvents: Events, to newEvents: Events, token: UInt64) throws(Errno) {
            try control(EPOLL_CTL_MOD, fd, newEvents, token)
        }

        func remove(fd: Int32, events: Events) throws(Errno) {
            try control(EPOLL_CTL_DEL, fd, [], 0)
        }

        func wait(timeout: WaitTimeout?, into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno)
            -> Int
        {
            if kernelEvents.count < buffer.count {
                kernelEvents.deallocate()
                kernelEvents = .allocate(capacity: buffer.count)
            }
            let count = Int(
                try SystemCall.once {
                    epoll_wait(
                        epollFD, kernelEvents.baseAddress, Int32(buffer.count), timeout?.milliseconds ?? -1)
                })
            for index in 0..<count {
                let event = kernelEvents[index]
                buffer[index] = ReadyEvent(
                    token: event.data.u64, events: EpollBackend.readiness(event.events))
            }
            return count
        }

        func close() {
            SystemCall.close(epollFD)
            kernelEvents.deallocate()
        }

        private func control(_ operation: Int32, _ fd: Int32, _ events: Events, _ token: UInt64) throws(Errno)
        {
            // EPOLL_CTL_DEL ignores the event, but kernels before 2.6.9 required a non-null one.
            var event = epoll_event()
            event.events = EpollBackend.interest(events)
            event.data.u64 = token
            _ = try SystemCall.once { epoll_ctl(epollFD, operation, fd, &event) }
        }

        private static func interest(_ events: Events) -> UInt32 {
            (events.contains(.read) ? EPOLLIN.rawValue : 0)
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
