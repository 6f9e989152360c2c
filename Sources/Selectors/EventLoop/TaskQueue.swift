import Synchronization

/// Closures and Swift concurrency jobs submitted from any thread, run on the loop thread in
/// submission order.
///
/// The wake-up protocol: a submitter appends under the lock, then sets `wakeupPending`; only
/// the submitter that flips it from false to true writes to the waker, so a burst of
/// submissions costs one kernel write. The loop clears the flag *before* taking the queue,
/// so a task appended after the take sees a cleared flag and writes again: no wake-up is
/// lost, at worst one is spurious.
final class TaskQueue: Sendable {
    /// One piece of work: a closure from `execute`, or a job from the executor's `enqueue`.
    enum Task: Sendable {
        case closure(@Sendable () -> Void)
        case job(LoopJob)
    }

    private struct Pending {
        var tasks: [Task] = []
        var isClosed = false
    }

    let waker: any Waker
    private let pending = Locked(Pending())
    private let wakeupPending = Atomic<Bool>(false)

    init(waker: any Waker) { self.waker = waker }

    /// Queues `task` and wakes the loop; false (and nothing queued) once the queue is closed.
    func submit(_ task: Task) -> Bool {
        let accepted = pending.withLock { pending in
            guard !pending.isClosed else { return false }
            pending.tasks.append(task)
            return true
        }
        if accepted { wakeUp() }
        return accepted
    }

    /// Makes the loop's next (or current) wait return.
    func wakeUp() {
        if !wakeupPending.exchange(true, ordering: .acquiringAndReleasing) {
            // Written under the lock that `close()` takes: once the waker's fd is closed its
            // number may belong to another file, which a late `execute` or `stop` from another
            // thread must not write into. Only the one submitter per iteration that flips the
            // flag gets here, so the lock is not on the common path.
            pending.withLock { pending in
                if !pending.isClosed { waker.wake() }
            }
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
        pending.withLock { swap(&$0.tasks, &batch) }
    }

    /// Refuses later submissions and wake-ups, and hands back what was queued, for the loop
    /// to run before it closes (`EventLoop.closeRunningAcceptedTasks`).
    func refuse() -> [Task] {
        pending.withLock { pending in
            pending.isClosed = true
            defer { pending.tasks = [] }
            return pending.tasks
        }
    }

    /// Refuses later submissions and wake-ups, closes the waker, and returns the jobs still
    /// queued (the runtime needs every job run; closures are dropped). Called once, when the
    /// loop closes.
    func close() -> [LoopJob] {
        let left = pending.withLock { pending in
            pending.isClosed = true
            var left: [Task] = []
            swap(&left, &pending.tasks)
            return left
        }
        waker.close()
        // The closures are dropped here, outside the lock: dropping one may resume a task
        // (a readiness wait on its way to the loop fails with `loopClosed`).
        return left.compactMap { task -> LoopJob? in
            if case .job(let job) = task { return job }
            return nil
        }
    }
}
