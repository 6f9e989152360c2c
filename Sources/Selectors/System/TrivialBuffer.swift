/// A growable buffer of bitwise-copyable values that empties in constant time.
///
/// Why not an `Array`: emptying one while keeping its storage (`removeAll(keepingCapacity:)`)
/// goes through a generic range replacement, and appending checks the storage is uniquely
/// referenced; for the loop's queue of concurrency jobs, filled and emptied every iteration,
/// that was about 60 instructions per job (callgrind, async echo round trip). The elements
/// need no destruction, so emptying is setting the count to zero.
struct TrivialBuffer<Element: BitwiseCopyable>: ~Copyable {
    private var storage = UnsafeMutablePointer<Element>.allocate(capacity: 16)
    private var capacity = 16
    private(set) var count = 0

    deinit { storage.deallocate() }

    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element) {
        if count == capacity {
            let grown = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
            grown.initialize(from: storage, count: count)
            storage.deallocate()
            storage = grown
            capacity *= 2
        }
        (storage + count).initialize(to: element)
        count += 1
    }

    subscript(index: Int) -> Element {
        precondition(index >= 0 && index < count)
        return storage[index]
    }

    mutating func removeAll() { count = 0 }

    /// The elements as an array (for handing them to another owner).
    var elements: [Element] { Array(UnsafeBufferPointer(start: storage, count: count)) }

    /// Exchanges the contents of two buffers without copying elements.
    mutating func swapContents(with other: inout TrivialBuffer<Element>) {
        swap(&storage, &other.storage)
        swap(&capacity, &other.capacity)
        swap(&count, &other.count)
    }
}
