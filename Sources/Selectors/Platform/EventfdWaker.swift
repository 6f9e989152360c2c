#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// A waker built on Linux `eventfd(2)`: one fd whose counter any thread can bump.
    final class EventfdWaker: Waker {
        let readFD: Int32

        init() throws(Errno) {
            readFD = try SystemCall.once { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
        }

        func wake() {
            var one: UInt64 = 1
            // The counter saturates only after 2^64-2 wake-ups; EAGAIN then still leaves it readable.
            _ = CSelectors.write(readFD, &one, 8)
        }

        func drain() {
            var count: UInt64 = 0
            _ = CSelectors.read(readFD, &count, 8)
        }

        func close() {
            SystemCall.close(readFD)
        }
    }
#endif
