#if os(Linux)
    import CSelectors
    import Selectors

    /// A client thread's edge-triggered epoll set.
    ///
    /// Edge-triggered, so a connection is added once (`EPOLLIN | EPOLLOUT | EPOLLET`) and never
    /// modified: the worker remembers "may read" / "may write" per connection and clears them
    /// when a call returns `EAGAIN`. That saves an `epoll_ctl` per direction change, which
    /// matters because the client, not the server, is usually the bottleneck. This is the load
    /// generator's private machinery, deliberately not the `Selector` under test.
    final class Poller {
        private let epollFD: Int32
        private let events: UnsafeMutablePointer<epoll_event>
        private let capacity: Int32 = 512

        init() throws(Errno) {
            epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
            if epollFD < 0 { throw Errno(rawValue: cselectors_errno()) }
            events = .allocate(capacity: Int(capacity))
        }

        deinit {
            Socket.close(epollFD)
            events.deallocate()
        }

        /// Watches `fd` for both directions, edge-triggered; events carry `token`.
        func add(_ fd: Int32, token: UInt64) throws(Errno) {
            var event = epoll_event()
            event.events = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLET.rawValue
            event.data.u64 = token
            if epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) < 0 { throw Errno(rawValue: cselectors_errno()) }
        }

        /// Waits up to `milliseconds` and returns how many events `token(at:)` can read.
        /// Closing an fd removes it from the set, so there is no `remove`.
        @inline(__always)
        func wait(milliseconds: Int32) -> Int {
            let count = epoll_wait(epollFD, events, capacity, milliseconds)
            return count < 0 ? 0 : Int(count)  // EINTR: the caller's loop simply waits again
        }

        @inline(__always)
        func token(at index: Int) -> UInt64 { events[index].data.u64 }

        /// Errors and hang-ups count as both directions: the next read or write reports them.
        @inline(__always)
        func readiness(at index: Int) -> (readable: Bool, writable: Bool) {
            let flags = events[index].events
            let failed = flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0
            return (failed || flags & EPOLLIN.rawValue != 0, failed || flags & EPOLLOUT.rawValue != 0)
        }
    }
#endif
