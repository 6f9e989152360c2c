internal import CSelectors

/// Nanoseconds on `CLOCK_MONOTONIC`: the clock every timeout and timer in the library uses.
enum MonotonicClock {
    /// The current time in nanoseconds since an arbitrary fixed point (`clock_gettime`).
    @inline(__always)
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) &* 1_000_000_000 &+ Int64(spec.tv_nsec)
    }
}
