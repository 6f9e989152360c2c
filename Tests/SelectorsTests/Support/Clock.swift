import CSelectors

/// Now on `CLOCK_MONOTONIC`, the clock the selector measures its timeouts with, so a test's
/// "waited at least" compares like with like.
func monotonicNow() -> Duration {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return .seconds(Int64(spec.tv_sec)) + .nanoseconds(Int64(spec.tv_nsec))
}

/// Runs `body` and returns its result with the monotonic time it took.
func measure<Result>(_ body: () throws -> Result) rethrows -> (result: Result, elapsed: Duration) {
    let start = monotonicNow()
    let result = try body()
    return (result, monotonicNow() - start)
}

/// Sleeps the calling thread for at least `duration` (`nanosleep`, resumed after signals).
func sleep(for duration: Duration) {
    let deadline = monotonicNow() + duration
    while true {
        let left = deadline - monotonicNow()
        guard left > .zero else { return }
        let (seconds, attoseconds) = left.components
        var spec = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        _ = nanosleep(&spec, nil)
    }
}

/// How many times the calling thread has slept in the kernel (`ru_nvcsw` of
/// `getrusage(RUSAGE_THREAD)`). A wait that blocks raises it; a loop of zero-timeout polls
/// does not, which tells "waited" from "spun until the time was up" without timing anything.
func voluntaryContextSwitches() -> Int {
    var usage = rusage()
    #if os(Linux)
        // RUSAGE_THREAD is 1 on Linux; glibc only names it under _GNU_SOURCE.
        _ = getrusage(__rusage_who_t(1), &usage)
    #else
        _ = getrusage(RUSAGE_SELF, &usage)
    #endif
    return Int(usage.ru_nvcsw)
}

/// CPU time the calling thread has used, user plus system (`getrusage(RUSAGE_THREAD)`). A
/// thread that waits uses next to none; one that spins uses about as much as wall time.
func threadCPUTime() -> Duration {
    var usage = rusage()
    #if os(Linux)
        _ = getrusage(__rusage_who_t(1), &usage)
    #else
        _ = getrusage(RUSAGE_SELF, &usage)
    #endif
    return .seconds(Int64(usage.ru_utime.tv_sec) + Int64(usage.ru_stime.tv_sec))
        + .microseconds(Int64(usage.ru_utime.tv_usec) + Int64(usage.ru_stime.tv_usec))
}
