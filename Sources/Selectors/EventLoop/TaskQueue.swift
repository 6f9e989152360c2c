import Synchronization

/// Closures submitted from any thread, run on the loop thread in submission order.
///
/// The wake-up protocol: a submitter appends under the lock, then sets `wakeupPending`; only
/// the submitter that flips it from false to true writes to the waker, so a burst of
/// submissions costs one kernel write. The loop clears the flag *before* taking the queue,
/// so a task appended after the take sees a cleared flag and writes again: no wake-up is
/// lost, at worst one is spurious.
final class TaskQueue: Sendable {
    typealias Task = @Sendable () -> Void

    let waker: any Waker
    private let pending = Mutex<[Task]>([])
    private let wakeupPending = Atomic<Bool>(false)

    init(waker: any Waker) { self.waker = waker }

    func submit(_ task: @escaping Task) {
        pending.withLock { $0.append(task) }
        wakeUp()
    }

    /// Makes the loop's next (or current) wait return.
    func wakeUp() {
        if !wakeupPending.exchange(true, ordering: .acquiringAndReleasing) {
            waker.wake()
        }
    }

    /// A cheap hint that `take` may find work. A stale `false` is harmless: the submitter
    /// that set the flag also wrote to the waker, so the loop's next wait returns at once.
    var mayHaveTasks: Bool { wakeupPending.load(ordering: .relaxed) }

    /// Swaps the submitted tasks into `batch` (which must be empty) if a wake-up is pending.
    /// Swapping lets both arrays keep their capacity, so steady-state submission does not
    /// allocate.
    func take(into batch: inout [Task]) {
        guard wakeupPending.exchange(false, ordering: .acquiringAndReleasing) else { return }
        pending.withLock { swap(&$0, &batch) }
    }

    /// Drops whatever is queued (the loop is closing).
    func discardAll() {
        pending.withLock { $0.removeAll() }
    }
}
