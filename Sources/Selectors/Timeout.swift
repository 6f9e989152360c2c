internal import CSelectors

/// A wait limit in nanoseconds, converted to each backend's unit by rounding **up**.
///
/// Rounding up is what makes "waits at least the timeout" true: truncating 0.3 ms to the
/// millisecond `poll` and `epoll_wait` take would turn a short wait into a busy poll.
struct WaitTimeout {
    /// Zero means "do not block"; never negative.
    let nanoseconds: Int64

    /// The longest wait a single system call is asked for: `Int32.max` milliseconds (about 24.8
    /// days), the most `poll` and `epoll_wait` accept. Longer waits are clamped; the selector
    /// simply returns with no events, which callers handle like any timeout.
    static let maximumNanoseconds: Int64 = Int64(Int32.max) * 1_000_000

    /// `nil` for "block until an event"; zero for negative or zero durations.
    init?(_ duration: Duration?) {
        guard let duration else { return nil }
        // Compared as durations first: `components` traps when the seconds do not fit in an
        // Int64, which a sum of two huge durations can reach.
        if duration <= .zero {
            nanoseconds = 0
            return
        }
        if duration >= .nanoseconds(WaitTimeout.maximumNanoseconds) {
            nanoseconds = WaitTimeout.maximumNanoseconds
            return
        }
        let (seconds, attoseconds) = duration.components
        let (wholeNanos, remainder) = attoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        nanoseconds = seconds * 1_000_000_000 + wholeNanos + (remainder > 0 ? 1 : 0)
    }

    init(nanoseconds: Int64) { self.nanoseconds = max(0, min(nanoseconds, WaitTimeout.maximumNanoseconds)) }

    /// Milliseconds for `poll` and `epoll_wait`, rounded up.
    var milliseconds: Int32 {
        // Unsigned, and without a clamp: `nanoseconds` is never negative and at most
        // `maximumNanoseconds`, which is `Int32.max` milliseconds. A timed loop converts a
        // timeout before every wait (callgrind: 13 instructions per echo round trip).
        Int32(truncatingIfNeeded: UInt64(bitPattern: nanoseconds &+ 999_999) / 1_000_000)
    }

    /// A `timeval` for `select`, rounded up to the microsecond.
    var timeval: CSelectors.timeval {
        let micros = (nanoseconds + 999) / 1_000
        return CSelectors.timeval(tv_sec: .init(micros / 1_000_000), tv_usec: .init(micros % 1_000_000))
    }

    /// A `timespec` for `kevent`, exact.
    var timespec: CSelectors.timespec {
        CSelectors.timespec(
            tv_sec: .init(nanoseconds / 1_000_000_000), tv_nsec: .init(nanoseconds % 1_000_000_000))
    }
}
