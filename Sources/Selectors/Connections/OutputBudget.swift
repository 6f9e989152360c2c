import Synchronization

/// A cap on the memory of the output buffers of several `Connections`, typically one per loop
/// of a server: pass the same budget in each one's `Options.budget`.
///
/// The per-connection water marks bound what one peer that never reads can cost; this bounds
/// what all of them together can. Once the sum passes the high mark, every `Connections`
/// sharing the budget stops reading from every connection (any read could add to the sum),
/// and once buffers freed as their peers read bring it to the low mark, they all resume. It counts allocated bytes,
/// not pending ones, so what it caps is the memory itself (a buffer may hold less than its
/// capacity). Loops check `isOverLimit` before each read: one relaxed load. The sum changes
/// only when a buffer is allocated, grows or is freed, never on the path where a write
/// takes everything at once.
public final class OutputBudget: Sendable {
    /// Whether reading is stopped everywhere.
    let isOverLimit = Atomic<Bool>(false)

    private let total = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)
    private let pauses = Atomic<Int>(0)
    private let high: Int
    private let low: Int
    /// What to call when reading may resume (one per `Connections`, by the id `onResume`
    /// gave it), under the lock that also serialises the flag's transitions.
    private let resumeCallbacks = Locked<ResumeCallbacks>(ResumeCallbacks())

    private struct ResumeCallbacks {
        var byID: [UInt64: @Sendable () -> Void] = [:]
        var nextID: UInt64 = 0
    }

    /// A budget that stops reading above `high` bytes of output buffers and resumes at `low`
    /// or below.
    /// - Throws: `invalidArgument` (operation `outputBudget`) unless `high` is at least 1 and
    ///   `low` is at least 0 and below `high`.
    public init(high: Int, low: Int) throws(SelectorError) {
        guard high >= 1 else {
            throw SelectorError(
                .outputBudget, fd: nil, .invalidArgument("high must be at least 1 byte, not \(high)"))
        }
        guard low >= 0, low < high else {
            throw SelectorError(
                .outputBudget, fd: nil,
                .invalidArgument("low must be at least 0 and below high (\(high)), not \(low)"))
        }
        self.high = high
        self.low = low
    }

    /// The bytes of output buffers allocated now, over every `Connections` sharing the budget.
    public var bufferBytes: Int { total.load(ordering: .relaxed) }
    /// The largest `bufferBytes` has been.
    public var peakBufferBytes: Int { peak.load(ordering: .relaxed) }
    /// How many times reading stopped everywhere.
    public var readPauses: Int { pauses.load(ordering: .relaxed) }

    /// Registers what to run when reading resumes after a server-wide stop (any thread);
    /// returns its id for `removeResumeCallback`.
    func onResume(_ callback: @escaping @Sendable () -> Void) -> UInt64 {
        resumeCallbacks.withLock { callbacks in
            callbacks.nextID += 1
            callbacks.byID[callbacks.nextID] = callback
            return callbacks.nextID
        }
    }

    /// Forgets a callback of `onResume`: its `Connections` is gone (a budget outlives the
    /// objects that share it, and kept each one's callback for good).
    func removeResumeCallback(_ id: UInt64) {
        resumeCallbacks.withLock { _ = $0.byID.removeValue(forKey: id) }
    }

    /// How many callbacks are registered: one per live `Connections` sharing the budget.
    var resumeCallbackCount: Int { resumeCallbacks.withLock { $0.byID.count } }

    /// A buffer was allocated or grew by `bytes`.
    func add(_ bytes: Int) {
        let now = total.wrappingAdd(bytes, ordering: .sequentiallyConsistent).newValue
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, current) = peak.compareExchange(
                expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = current
        }
        if now > high && !isOverLimit.load(ordering: .sequentiallyConsistent) { reconsider() }
    }

    /// A buffer of `bytes` was freed.
    func subtract(_ bytes: Int) {
        let now = total.wrappingSubtract(bytes, ordering: .sequentiallyConsistent).newValue
        if now <= low && isOverLimit.load(ordering: .sequentiallyConsistent) { reconsider() }
    }

    /// Sets or clears the flag to match the sum, and wakes every loop when it clears.
    ///
    /// Why the flag cannot stay set with the sum below the low mark: a subtraction loads the
    /// flag after changing the sum, and the raise below loads the sum again after setting the
    /// flag (all sequentially consistent). So either the subtraction saw the flag set and
    /// comes here to clear it, or the second load here sees the subtraction and clears it.
    private func reconsider() {
        let resume: [@Sendable () -> Void] = resumeCallbacks.withLock { callbacks in
            if !isOverLimit.load(ordering: .sequentiallyConsistent) {
                guard total.load(ordering: .sequentiallyConsistent) > high else { return [] }
                isOverLimit.store(true, ordering: .sequentiallyConsistent)
                pauses.wrappingAdd(1, ordering: .relaxed)
                guard total.load(ordering: .sequentiallyConsistent) <= low else { return [] }
            } else if total.load(ordering: .sequentiallyConsistent) > low {
                return []
            }
            isOverLimit.store(false, ordering: .sequentiallyConsistent)
            return Array(callbacks.byID.values)
        }
        for callback in resume { callback() }
    }
}
