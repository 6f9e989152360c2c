#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// Linux `epoll(7)`: level by default, `EPOLLET` for edge, `EPOLLONESHOT` for one-shot.
    ///
    /// The token travels in `epoll_event.data.u64`, so a ready event names its registration
    /// without a lookup, and `epoll_wait` writes the selector's ready buffer itself (a
    /// `ReadyEvent` is an `epoll_event`). Cost per wait grows with the number of ready fds
    /// only. Both flags do in the kernel what `Trigger` promises: `EPOLL_CTL_MOD` re-checks
    /// readiness (so a modify re-arms, and reports what is ready), and a one-shot fd stays
    /// disarmed until it.
    final class EpollBackend: PollingBackend {
        // A var only so `replaceInterestSet` can swap it; unchecked for the reason Selector gives.
        @exclusivity(unchecked) private var epollFD: Int32

        init() throws(Errno) {
            epollFD = try SystemCall.once { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        }

        // Inlined into their protocol witnesses, as `wait` is (one call per registration). The
        // selector adds through `cselectors_direct_control` itself (see `directWaitFD`).
        @inline(__always)
        func add(fd: Int32, events: Events, trigger: Trigger, token: UInt64) throws(Errno) {
            _ = try SystemCall.once {
                cselectors_direct_control(epollFD, 0, fd, UInt32(events.rawValue), trigger.directCode, token)
            }
        }

        @inline(__always)
        func modify(fd: Int32, from old: Interest, to new: Interest, token: UInt64) throws(Errno) {
            _ = try SystemCall.once {
                cselectors_direct_control(
                    epollFD, 1, fd, UInt32(new.events.rawValue), new.trigger.directCode, token)
            }
        }

        // Inlined into its protocol witness, which then is the implementation: the selector's
        // call through `any PollingBackend` reaches it without a second call (callgrind: 9
        // instructions per wait).
        @inline(__always)
        func wait(timeout: WaitTimeout?, into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno)
            -> Int
        {
            // The selector's ready buffer has one entry per registration, so its count fits.
            let capacity = Int32(truncatingIfNeeded: buffer.count)
            let milliseconds = timeout?.milliseconds ?? -1
            return Int(
                try SystemCall.once {
                    buffer.withMemoryRebound(to: epoll_event.self) { events in
                        epoll_wait(epollFD, events.baseAddress, capacity, milliseconds)
                    }
                })
        }

        var directWaitFD: Int32 { epollFD }

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
        }

        func remove(fd: Int32, events: Events) throws(Errno) {
            // EPOLL_CTL_DEL ignores the event, but kernels before 2.6.9 required a non-null one.
            var event = epoll_event()
            _ = try SystemCall.once { epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, &event) }
        }
    }
#endif
