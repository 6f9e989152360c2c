/// One scheduled timer. A class so the heap can tell it its position, which makes cancel
/// O(log n) instead of a search.
final class TimerEntry {
    var deadline: Int64
    var sequence: UInt64
    let interval: Int64?
    /// Dropped (set to nil) once the timer can never fire again, so a body that captures its
    /// own `TimerHandle` (to cancel itself, say) does not keep itself alive through the cycle
    /// entry -> body -> handle -> entry.
    var body: (() -> Void)?
    /// Position in the heap, or -1 when not scheduled (fired one-shot, or cancelled).
    var heapIndex = -1

    init(deadline: Int64, sequence: UInt64, interval: Int64?, body: @escaping () -> Void) {
        self.deadline = deadline
        self.sequence = sequence
        self.interval = interval
        self.body = body
    }

    /// Earlier deadline first; equal deadlines in scheduling order.
    @inline(__always)
    func precedes(_ other: TimerEntry) -> Bool {
        deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
    }
}

/// A binary min-heap of timers ordered by (deadline, sequence), as libuv orders its timers.
struct TimerQueue {
    private var heap: [TimerEntry] = []
    private(set) var nextSequence: UInt64 = 0

    var count: Int { heap.count }
    var first: TimerEntry? { heap.first }

    mutating func makeSequence() -> UInt64 {
        defer { nextSequence &+= 1 }
        return nextSequence
    }

    mutating func insert(_ entry: TimerEntry) {
        entry.heapIndex = heap.count
        heap.append(entry)
        siftUp(heap.count - 1)
    }

    mutating func remove(_ entry: TimerEntry) {
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

/// Cancels a timer scheduled on an `EventLoop`. Use it on the loop's thread.
public struct TimerHandle {
    let entry: TimerEntry
    weak var loop: EventLoop?

    /// Whether the timer is still scheduled: a one-shot timer stops being active when it fires.
    public var isActive: Bool { entry.heapIndex >= 0 }

    /// Unschedules the timer; it will not fire again. Cancelling twice, or after a one-shot
    /// timer fired, does nothing. A repeating timer may cancel itself from its own body.
    public func cancel() {
        loop?.cancel(entry)
    }
}
