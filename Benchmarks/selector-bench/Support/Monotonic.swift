#if os(Linux)
    import CSelectors

    /// `CLOCK_MONOTONIC` in nanoseconds: cheap (vDSO, no system call), so the client can read it
    /// once per completed operation.
    enum Monotonic {
        @inline(__always)
        static func now() -> Int64 {
            var spec = timespec()
            clock_gettime(CLOCK_MONOTONIC, &spec)
            return Int64(spec.tv_sec) &* 1_000_000_000 &+ Int64(spec.tv_nsec)
        }

        /// Sleeps for `seconds` (`nanosleep`, resumed after signals).
        static func sleep(seconds: Double) {
            guard seconds > 0 else { return }
            let nanoseconds = Int64(seconds * 1e9)
            var request = timespec(
                tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
            var remaining = timespec()
            while nanosleep(&request, &remaining) != 0 && cselectors_errno() == EINTR { request = remaining }
        }
    }
#endif
