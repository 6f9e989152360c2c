/// Where an event-loop iteration reads the time.
protocol LoopClock {
    func now() -> Int64
    /// Whether time stands still while handlers run (a virtual clock): the iteration then
    /// looks for due timers after the handlers even if none was scheduled before them, since a
    /// zero-delay timer a handler schedules is due at the very instant the wait ended.
    static var standsStillDuringIterations: Bool { get }
}

/// The monotonic clock, for every real loop.
struct MonotonicLoopClock: LoopClock {
    @inline(__always)
    func now() -> Int64 { MonotonicClock.now() }

    static var standsStillDuringIterations: Bool { false }
}
