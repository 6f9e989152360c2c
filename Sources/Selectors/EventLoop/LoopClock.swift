/// Where an event-loop iteration reads the time.
protocol LoopClock {
    func now() -> Int64
}

/// The monotonic clock, for every real loop.
struct MonotonicLoopClock: LoopClock {
    @inline(__always)
    func now() -> Int64 { MonotonicClock.now() }
}
