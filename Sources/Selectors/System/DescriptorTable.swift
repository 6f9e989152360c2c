internal import CSelectors

/// A flat table of entries indexed by fd, for the selector's registrations and the
/// connections' state: fds are small dense integers, so this beats a dictionary, and unlike
/// an `Array` a write needs no uniqueness check and no retain of the storage (an `Array` of
/// registrations cost a register-and-remove cycle about 40 instructions for those).
///
/// **Entries never move.** The table reserves address space for every fd the process may
/// open (`reservedCount`) when it is made, and growing only opens more of it (`PageBuffer`).
/// So a pointer to an entry stays valid for the table's life, also across a call into user
/// code that registers a higher fd and grows the table (a proxy's `.received` handler adopting
/// its upstream socket, say). When growing copied the table into a larger block, such a
/// pointer was left pointing into the freed one.
///
/// All-zero bytes must be the empty entry: pages take memory only as fds reach them, so the
/// resident cost is per fd in use, not per slot of capacity. Entries are bitwise-copyable
/// (nothing is deinitialized). The owner calls `deallocate()` once.
struct DescriptorTable<Entry: BitwiseCopyable> {
    let base: UnsafeMutablePointer<Entry>
    /// Entries open for use, from fd 0.
    private(set) var capacity: Int
    /// Entries reserved: fds from here up are refused.
    let reservedCount: Int
    /// The highest fd ever made room for, so sweeps can stop there (-1: none).
    private(set) var highestFD: Int32 = -1

    /// Opens `capacity` entries of a reservation of `reservedCount` (default: one per fd the
    /// process may open).
    init(capacity: Int, reservedCount: Int = DescriptorTableReservation.count) {
        self.reservedCount = max(capacity, reservedCount)
        base = PageBuffer.reserve(Entry.self, count: self.reservedCount)
        if let error = PageBuffer.commit(base, count: capacity) {
            fatalError("cannot commit the first \(capacity) entries of an fd table: \(error)")
        }
        self.capacity = capacity
    }

    /// Makes room for `fd` and returns its entry; nil if `fd` is negative, beyond the
    /// reservation, or the system would not commit the memory (`refusal(for:)`).
    @inline(__always)
    mutating func entry(for fd: Int32) -> UnsafeMutablePointer<Entry>? {
        // One unsigned comparison, as in `existing`: a negative fd takes the slow path, where
        // `grow` refuses it.
        if UInt(UInt32(bitPattern: fd)) >= UInt(bitPattern: capacity), !grow(toInclude: fd) { return nil }
        if fd > highestFD { highestFD = fd }
        return base + Int(fd)
    }

    /// Why `entry(for: fd)` returned nil.
    func refusal(for fd: Int32) -> SelectorError.Reason {
        // `mprotect` fails only with ENOMEM for a reservation of our own.
        if fd < 0 { return .negativeDescriptor }
        return Int(fd) >= reservedCount
            ? .descriptorBeyondTable(limit: Int32(clamping: reservedCount)) : .system(.noMemory)
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

    @inline(never)
    private mutating func grow(toInclude fd: Int32) -> Bool {
        guard fd >= 0, Int(fd) < reservedCount else { return false }
        let grown = min(reservedCount, max(Int(fd) + 1, capacity * 2))
        guard PageBuffer.commit(base, count: grown) == nil else { return false }
        capacity = grown
        return true
    }

    func deallocate() {
        PageBuffer.deallocate(base, count: reservedCount)
    }
}

/// How many entries a `DescriptorTable` reserves by default: the hard limit on open files
/// (`getrlimit(RLIMIT_NOFILE)`'s `rlim_max`, what the soft limit may be raised to), or 2^20
/// (Linux's default `fs.nr_open`) when that is unlimited. Capped at 2^24 (with 24-byte
/// entries, 384 MiB of address space, none of it memory until used) and at 2^16 where
/// addresses are 32 bits.
enum DescriptorTableReservation {
    static var count: Int {
        let ceiling = cselectors_open_files_ceiling()
        let wanted = ceiling < 0 ? 1 << 20 : Int(clamping: ceiling)
        return max(1, min(wanted, Int.bitWidth == 64 ? 1 << 24 : 1 << 16))
    }
}
