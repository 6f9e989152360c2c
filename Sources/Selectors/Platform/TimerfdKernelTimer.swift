#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// A kernel timer built on Linux `timerfd_create(CLOCK_MONOTONIC)`, armed with absolute
    /// deadlines (`TFD_TIMER_ABSTIME`), so arming needs no clock reading of its own.
    final class TimerfdKernelTimer: KernelTimer {
        let readFD: Int32

        init() throws(Errno) {
            readFD = try SystemCall.once {
                timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
            }
        }

        func arm(at deadline: Int64) -> Bool {
            // An all-zero value would disarm the timer instead: a deadline at or before the
            // clock's zero has passed anyway, and 1 ns fires at once just the same.
            let nanoseconds = max(deadline, 1)
            var setting = itimerspec()
            setting.it_value.tv_sec = .init(nanoseconds / 1_000_000_000)
            setting.it_value.tv_nsec = .init(nanoseconds % 1_000_000_000)
            return timerfd_settime(readFD, Int32(TFD_TIMER_ABSTIME), &setting, nil) == 0
        }

        func drain() {
            var expirations: UInt64 = 0
            _ = CSelectors.read(readFD, &expirations, 8)
        }

        func close() {
            SystemCall.close(readFD)
        }
    }
#endif
