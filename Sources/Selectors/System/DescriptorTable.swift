internal import CSelectors

/// A flat table of entries indexed by fd, for the selector's registrations and the
/// connections' state: fds are small dense integers, so this beats a dictionary, and unlike
/// an `Array` a write needs no uniqueness check and no retain of the storage (an `Array` of
/// registrations cost a register-and-remove cycle about 40 instructions for those).
///
/// The storage is pages of its own (`PageBuffer`) and all-zero bytes must be the empty entry,
/// so the kernel maps pages only as fds reach them: resident cost is per fd in use, not per
/// slot of capacity, and an outgrown table's pages go back at once. Entries are
/// bitwise-copyable, so growing copies them as bytes. The owner calls `deallocate()` once.
struct DescriptorTable<Entry: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Entry>
    private(set) var capacity: Int
    /// The highest fd ever made room for, so sweeps can stop there (-1: none).
    private(set) var highestFD: Int32 = -1

    init(capacity: Int) {
        self.capacity = capacity
        base = PageBuffer.allocate(Entry.self, count: capacity)
    }

    /// Makes room for `fd` (which must not be negative) and returns its entry.
    @inline(__always)
    mutating func entry(for fd: Int32) -> UnsafeMutablePointer<Entry> {
        if Int(fd) >= capacity { grow(to: Int(fd) + 1) }
        if fd > highestFD { highestFD = fd }
        return base + Int(fd)
    }

    /// The entry of an fd already made room for.
    @inline(__always)
    subscript(fd: Int32) -> UnsafeMutablePointer<Entry> { base + Int(fd) }

    /// The entry of `fd` if the table reaches that far (a stale or foreign fd may not).
    @inline(__always)
    func existing(_ fd: Int32) -> UnsafeMutablePointer<Entry>? {
        // One unsigned comparison: a negative fd reads as a number above any capacity.
        UInt(UInt32(bitPattern: fd)) < UInt(bitPattern: capacity) ? base + Int(fd) : nil
    }

    private mutating func grow(to needed: Int) {
        let grown = max(needed, capacity * 2)
        let larger = PageBuffer.allocate(Entry.self, count: grown)
        larger.update(from: base, count: capacity)
        PageBuffer.deallocate(base, count: capacity)
        base = larger
        capacity = grown
    }

    func deallocate() {
        PageBuffer.deallocate(base, count: capacity)
    }
}
