/// The registrations, indexed by fd: fds are small dense integers, so an array beats a
/// dictionary on the per-event lookup. Each slot also remembers the generation of its last
/// registration, which survives unregistration so the next registration of the same number
/// gets a new one.
struct KeyTable {
    private var slots: [Slot] = []
    private(set) var count = 0

    private struct Slot {
        var key: SelectorKey?
        var generation: UInt32 = 0
    }

    subscript(fd: Int32) -> SelectorKey? {
        @inline(__always) get {
            let index = Int(fd)
            return index >= 0 && index < slots.count ? slots[index].key : nil
        }
    }

    /// The generation the next registration of `fd` will carry.
    func nextGeneration(for fd: Int32) -> UInt32 {
        let index = Int(fd)
        return (index < slots.count ? slots[index].generation : 0) &+ 1
    }

    mutating func insert(_ key: SelectorKey) {
        let index = Int(key.fd)
        if index >= slots.count {
            slots.append(
                contentsOf: repeatElement(Slot(), count: max(index + 1, slots.count * 2) - slots.count))
        }
        slots[index] = Slot(key: key, generation: key.generation)
        count += 1
    }

    mutating func replace(_ key: SelectorKey) {
        slots[Int(key.fd)].key = key
    }

    mutating func remove(_ fd: Int32) -> SelectorKey? {
        let index = Int(fd)
        guard index >= 0, index < slots.count, let key = slots[index].key else { return nil }
        slots[index].key = nil
        count -= 1
        return key
    }

    /// Every registered key, in fd order.
    var allKeys: some Sequence<SelectorKey> { slots.lazy.compactMap(\.key) }
}
