import CSelectors

/// One connection's state: 32 bytes, kept in an array indexed by fd (`ConnectionTable`).
///
/// The only per-connection heap memory is `output`, the bytes read but not yet written back,
/// which is allocated when a write comes up short and freed as soon as it drains.
struct Connection {
    /// Pending output (`malloc`), or `nil` when nothing is pending.
    var output: UnsafeMutableRawPointer? = nil
    /// Offset of the first unsent byte in `output`.
    var start: UInt32 = 0
    /// Offset just past the last pending byte in `output`.
    var end: UInt32 = 0
    /// Bytes allocated at `output`.
    var capacity: UInt32 = 0
    /// The idle-sweep tick of the last read or write progress.
    var lastActivity: UInt32 = 0
    /// Where the connection is in its life.
    var flags: Flags = []

    struct Flags: OptionSet {
        var rawValue: UInt8
        /// The slot holds an open, registered connection.
        static let open = Flags(rawValue: 1 << 0)
        /// Reading stopped because too much output is pending (the high-water mark).
        static let readPaused = Flags(rawValue: 1 << 1)
        /// The client sent end of stream: flush what is pending, then close.
        static let peerClosed = Flags(rawValue: 1 << 2)
        /// The server is shutting down: input is discarded, pending output flushed.
        static let draining = Flags(rawValue: 1 << 3)
        /// `shutdown(SHUT_WR)` was sent while draining; waiting for the client's end of stream.
        static let finSent = Flags(rawValue: 1 << 4)
    }

    /// Bytes waiting to be written.
    var pendingCount: Int { Int(end &- start) }

    /// The pending bytes, for `send`.
    var pending: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: output.map { $0 + Int(start) }, count: pendingCount)
    }

    /// Appends `bytes` to the pending output, compacting or growing the buffer as needed.
    /// - Returns: false if memory ran out (the bytes were not kept).
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        if output == nil {
            // A first short write usually leaves part of one read behind; round up to a page so
            // a few more reads fit before the buffer must grow.
            let size = (count + 4095) & ~4095
            guard let memory = malloc(size) else { return false }
            output = memory
            capacity = UInt32(size)
            start = 0
            end = 0
        } else if Int(end) + count > Int(capacity) {
            let pendingBytes = pendingCount
            if start > 0 {
                memmove(output!, output! + Int(start), pendingBytes)
                start = 0
                end = UInt32(pendingBytes)
            }
            if pendingBytes + count > Int(capacity) {
                let size = max(pendingBytes + count, Int(capacity) * 2)
                guard let memory = realloc(output, size) else { return false }
                output = memory
                capacity = UInt32(size)
            }
        }
        memcpy(output! + Int(end), bytes.baseAddress!, count)
        end += UInt32(count)
        return true
    }

    /// Marks `count` pending bytes as written.
    mutating func consume(_ count: Int) {
        start += UInt32(count)
    }

    /// Frees the pending output.
    mutating func releaseOutput() {
        free(output)
        output = nil
        start = 0
        end = 0
        capacity = 0
    }
}

/// Connection slots indexed by fd: fds are small dense integers, so a flat array beats a
/// dictionary, and 32 bytes per slot keeps 20,000 connections under a megabyte.
struct ConnectionTable {
    private(set) var slots: UnsafeMutablePointer<Connection>
    private(set) var capacity: Int
    /// The highest fd ever stored, so sweeps can stop there.
    private(set) var highestFD: Int32 = -1

    init() {
        capacity = 256
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Connection(), count: capacity)
    }

    /// Makes room for `fd` and returns its slot.
    @inline(__always)
    mutating func slot(for fd: Int32) -> UnsafeMutablePointer<Connection> {
        if Int(fd) >= capacity { grow(to: Int(fd) + 1) }
        if fd > highestFD { highestFD = fd }
        return slots + Int(fd)
    }

    /// The slot of an fd that is already stored.
    @inline(__always)
    subscript(fd: Int32) -> UnsafeMutablePointer<Connection> { slots + Int(fd) }

    private mutating func grow(to needed: Int) {
        let grown = max(needed, capacity * 2)
        let larger = UnsafeMutablePointer<Connection>.allocate(capacity: grown)
        larger.moveInitialize(from: slots, count: capacity)
        (larger + capacity).initialize(repeating: Connection(), count: grown - capacity)
        slots.deallocate()
        slots = larger
        capacity = grown
    }

    /// Frees the table; every connection's output must have been released.
    func deallocate() {
        slots.deallocate()
    }
}
