/// A point in time on the monotonic clock (`CLOCK_MONOTONIC`) that the event loop's timers use.
///
/// The loop keeps its own instant type rather than `ContinuousClock.Instant` so that timer
/// deadlines and the selector's timeout arithmetic read the same clock.
public struct LoopInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since an arbitrary fixed point.
    public let nanoseconds: Int64

    /// Creates an instant from monotonic nanoseconds.
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// The current time (`clock_gettime(CLOCK_MONOTONIC)`).
    public static var now: LoopInstant { LoopInstant(nanoseconds: MonotonicClock.now()) }

    /// The instant `duration` later; saturates instead of overflowing, so a delay of
    /// `.seconds(Int64.max)` means "never" rather than a trap or a deadline in the past.
    public func advanced(by duration: Duration) -> LoopInstant {
        LoopInstant(nanoseconds: nanoseconds.addingSaturating(duration.saturatedNanoseconds))
    }

    /// The time from `self` until `other` (negative if `other` is earlier).
    public func duration(to other: LoopInstant) -> Duration {
        .nanoseconds(other.nanoseconds.subtractingSaturating(nanoseconds))
    }

    /// Orders instants by time.
    public static func < (lhs: LoopInstant, rhs: LoopInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Nanoseconds, for logs.
    public var description: String { "LoopInstant(\(nanoseconds) ns)" }
}

extension Duration {
    /// Whole nanoseconds, rounded up so a timer never fires early, and clamped to `Int64`.
    var saturatedNanoseconds: Int64 {
        // Compared as durations first: `components` itself traps when the seconds do not fit
        // in an Int64, which a Duration beyond about 292 billion years does.
        if self >= .seconds(Int64.max / 1_000_000_000) { return Int64.max }
        if self <= .seconds(Int64.min / 1_000_000_000) { return Int64.min }
        let (seconds, attoseconds) = components
        let (nanos, remainder) = attoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        return seconds * 1_000_000_000 + nanos + (remainder > 0 ? 1 : 0)
    }
}

extension Int64 {
    func addingSaturating(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    func subtractingSaturating(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}
