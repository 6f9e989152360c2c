import Selectors
import Synchronization

/// Keeps a notice that can repeat quickly (a rejection, a pause) to one line per second:
/// occurrences in between are counted and the next line reports them all.
///
/// Loop-thread state; the clock is read only when something occurs.
struct NoticeLimiter {
    private var lastNotice: Int64?
    private var unreported = 0
    private static let interval: Int64 = 1_000_000_000

    /// Records `count` occurrences. Returns how many to report (these plus the ones held back
    /// since the last line) when a line is due now, `nil` otherwise.
    mutating func record(_ count: Int = 1) -> Int? {
        unreported += count
        let now = LoopInstant.now.nanoseconds
        if let lastNotice, now &- lastNotice < NoticeLimiter.interval { return nil }
        lastNotice = now
        defer { unreported = 0 }
        return unreported
    }
}

/// A flag set once by whichever loop gets there first, for notices a server gives only once.
final class OnceFlag: Sendable {
    private let isSet = Atomic<Bool>(false)

    /// True for the first caller only.
    func claim() -> Bool {
        !isSet.load(ordering: .relaxed) && !isSet.exchange(true, ordering: .relaxed)
    }
}
