import Synchronization

/// One scheduled timer. A class so the heap can tell it its position, which makes cancel
/// O(log n) instead of a search.
///
/// `@unchecked Sendable` because a `TimerHandle` may cancel it from any thread: only `state`
/// (atomic) is touched there. Everything else belongs to the loop's thread.
final class TimerEntry: @unchecked Sendable {
    var deadline: Int64
    var sequence: UInt64 = 0
    let interval: Int64?
    /// Dropped (set to nil) on the loop thread once the timer can never fire again, so a
    /// body that captures its own `TimerHandle` (to cancel itself, say) does not keep itself
    /// alive through the cycle entry -> body -> handle -> entry.
    var body: (() -> Void)?
    /// Position in the heap, or -1 when not in it.
    var heapIndex = -1
    /// `State`: scheduled until it fires for the last time or is cancelled, from any thread.
    private let state = Atomic<UInt8>(State.scheduled.rawValue)

    enum State: UInt8 {
        case scheduled, fired, cancelled
    }

    init(deadline: Int64, interval: Int64?, body: @escaping () -> Void) {
        self.deadline = deadline
        self.interval = interval
        self.body = body
    }

    /// Whether the timer may still fire.
    var isScheduled: Bool { state.load(ordering: .acquiring) == State.scheduled.rawValue }

    /// Moves a scheduled timer to `final` (fired or cancelled); false if it was not scheduled.
    @discardableResult
    func retire(_ final: State) -> Bool {
        state.compareExchange(
            expected: State.scheduled.rawValue, desired: final.rawValue, ordering: .acquiringAndReleasing
        ).exchanged
    }

    /// Earlier deadline first; equal deadlines in scheduling order.
    @inline(__always)
    func precedes(_ other: TimerEntry) -> Bool {
        deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
    }
}

/// A binary min-heap of timers ordered by (deadline, sequence), as libuv orders its timers.
/// The sequence is given when a timer is scheduled (`EventLoop.makeTimerSequence`), on
/// whichever thread.
struct TimerQueue {
    private var heap: [TimerEntry] = []

    var count: Int { heap.count }
    var first: TimerEntry? { heap.first }

    /// Whether the earliest timer is due at `now`: the loop asks inline, so an iteration with
    /// none due makes no call (callgrind: 33 instructions per echo round trip with an idle
    /// timeout scheduled).
    @inline(__always)
    func hasDue(at now: Int64) -> Bool {
        guard let first = heap.first else { return false }
        return first.deadline <= now
    }

    /// The earliest deadline later than `instant` (a scan: for `VirtualEventLoop`, when timers
    /// due at `instant` keep re-arming there).
    func earliestDeadline(after instant: Int64) -> Int64? {
        heap.lazy.filter { $0.deadline > instant && $0.isScheduled }.map(\.deadline).min()
    }

    mutating func insert(_ entry: TimerEntry) {
        entry.heapIndex = heap.count
        heap.append(entry)
        siftUp(heap.count - 1)
    }

    /// Takes `entry` out of the heap if it is there, and drops its body if it can no longer
    /// fire (the heap is the timer's only way back to the loop).
    mutating func remove(_ entry: TimerEntry) {
        if !entry.isScheduled { entry.body = nil }
        let index = entry.heapIndex
        guard index >= 0, index < heap.count, heap[index] === entry else { return }
        let last = heap.removeLast()
        entry.heapIndex = -1
        guard index < heap.count else { return }
        heap[index] = last
        last.heapIndex = index
        siftDown(index)
        siftUp(last.heapIndex)
    }

    /// Unschedules every timer for good (the loop is closing).
    mutating func removeAll() {
        for entry in heap {
            entry.retire(.cancelled)
            entry.heapIndex = -1
            entry.body = nil
        }
        heap = []
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            let right = left + 1
            var smallest = heap[left].precedes(heap[parent]) ? left : parent
            if right < heap.count, heap[right].precedes(heap[smallest]) { smallest = right }
            guard smallest != parent else { return }
            swapAt(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        heap[a].heapIndex = a
        heap[b].heapIndex = b
    }
}

/// Cancels a timer scheduled on an `EventLoop`, from any thread.
public struct TimerHandle: Sendable {
    let entry: TimerEntry
    weak let loop: EventLoop?

    /// Whether the timer may still fire: false once a one-shot timer has fired, or the timer
    /// was cancelled, or its loop closed.
    public var isActive: Bool {
        // The loop is asked too: a timer scheduled from another thread travels to the loop as
        // a task, which a loop closed first drops without retiring the timer.
        guard entry.isScheduled, let loop else { return false }
        return !loop.isClosed
    }

    /// Unschedules the timer; it will not fire again. Cancelling twice, or after a one-shot
    /// timer fired, does nothing. A repeating timer may cancel itself from its own body.
    ///
    /// From any thread. On the loop's thread the timer leaves the queue at once. From another
    /// thread it is marked so it can no longer start, and leaves the queue at the loop's next
    /// iteration; if the loop was already running its body, that run finishes.
    public func cancel() {
        if let loop {
            loop.cancel(entry)
        } else {
            entry.retire(.cancelled)
        }
    }
}
