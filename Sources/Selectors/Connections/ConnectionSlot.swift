internal import CSelectors

// The one place where `Connections` handles raw memory: the fd-indexed slot table and the
// pending-output buffers. Both come from malloc (not Swift arrays) so an idle connection
// costs its 24 bytes of table and nothing else, pages of the table untouched by any fd are
// never resident, and the hot path pays no bounds checks, uniqueness checks or reference
// counting for them.

/// One connection's state: 24 bytes, kept in an array indexed by fd (`ConnectionSlots`).
///
/// The only per-connection heap memory is the pending output, allocated when a write comes up
/// short and freed as soon as it drains. Its offsets live in a header at the start of that
/// allocation rather than here, so an idle connection costs 24 bytes of table.
struct ConnectionSlot {
    /// Pending output (`OutputBuffer`, from `malloc`), or `nil` when nothing is pending.
    var output: UnsafeMutableRawPointer? = nil
    /// When the idle sweep last saw the connection make progress, in milliseconds on the
    /// worker's clock, or `activeNow` if it has made progress since that sweep.
    var lastActivity: UInt32 = 0

    /// Tells this connection on the fd from earlier and later ones (see `Connection`).
    var generation: UInt32 = 0
    /// The error of a failed write (`.failed`), reported when the connection closes.
    var failure: Int32 = 0

    /// The `lastActivity` mark for progress since the last idle sweep.
    static let activeNow = UInt32.max
    /// Where the connection is in its life.
    var flags: Flags = []

    struct Flags: OptionSet {
        var rawValue: UInt32
        /// The slot holds an open, registered connection.
        static let open = Flags(rawValue: 1 << 0)
        /// Reading stopped because too much output is pending (the high-water mark).
        static let readPaused = Flags(rawValue: 1 << 1)
        /// The peer sent end of stream: no more reading.
        static let peerClosed = Flags(rawValue: 1 << 2)
        /// Shutting down (`Connections.drain`): input is discarded, pending output flushed.
        static let draining = Flags(rawValue: 1 << 3)
        /// `shutdown(SHUT_WR)` was sent; nothing more is written.
        static let finSent = Flags(rawValue: 1 << 4)
        /// Reading stopped because the output buffers of every connection sharing an
        /// `OutputBudget` take more than its high mark.
        static let budgetPaused = Flags(rawValue: 1 << 5)
        /// Not registered with the loop: reading is paused and nothing is pending, so there is
        /// nothing to watch (an empty interest set is not a registration).
        static let unwatched = Flags(rawValue: 1 << 6)
        /// Input arrived that nobody will read (while draining, or unread at a forced close):
        /// the connection ends with a reset, so the peer can tell it was cut off.
        static let inputDropped = Flags(rawValue: 1 << 7)
        /// The owner paused reading (`Connection.pauseReading`).
        static let ownerPaused = Flags(rawValue: 1 << 8)
        /// The owner asked to close once the output is written (`Connection.close`).
        static let closeRequested = Flags(rawValue: 1 << 9)
        /// The owner asked for a half-close once the output is written (`shutdownOutput`).
        static let shutdownRequested = Flags(rawValue: 1 << 10)
        /// Pending output passed the high-water mark and has not yet fallen to the low one.
        static let outputFull = Flags(rawValue: 1 << 11)
        /// `send` said `ENOTSOCK`: a pipe or pty, written with `write(2)` from then on.
        static let notSocket = Flags(rawValue: 1 << 12)
        /// A write failed; the connection closes with that error at the next iteration.
        static let failed = Flags(rawValue: 1 << 13)
        /// Pulling: a task waits to read.
        static let readWaiting = Flags(rawValue: 1 << 14)
        /// Pulling, edge-triggered: the fd became readable while no task waited.
        static let readReady = Flags(rawValue: 1 << 15)
        /// `.outputFull` is waiting to be told at the loop's next turn (see
        /// `Connections.becameFull`); a drain before then cancels it, and is not told either.
        static let fullNoticePending = Flags(rawValue: 1 << 16)

        /// Any of these keeps a connection from reading.
        static let notReading: Flags = [
            .peerClosed, .readPaused, .budgetPaused, .ownerPaused, .closeRequested, .failed,
        ]
        /// Any of these means nothing more may be written.
        static let outputClosed: Flags = [.closeRequested, .shutdownRequested, .finSent, .failed]
    }

    /// Bytes waiting to be written.
    var pendingCount: Int { output.map { OutputBuffer.header($0).pointee.count } ?? 0 }

    /// The pending bytes, for `send`.
    var pending: UnsafeRawBufferPointer {
        guard let output else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let header = OutputBuffer.header(output).pointee
        return UnsafeRawBufferPointer(
            start: output + OutputBuffer.dataOffset + Int(header.start), count: header.count)
    }

    /// Appends `bytes` to the pending output, compacting or growing the buffer as needed.
    ///
    /// The capacity doubles as the buffer grows, to amortise the copies, but never past
    /// `capacityLimit` (rounded up to a page): the most that can be pending at once, the
    /// high-water mark plus one read. So a client that never reads holds a buffer the size of
    /// its pending bytes, not up to twice that. (If more were ever asked for, the buffer
    /// would grow to fit rather than drop bytes.)
    /// - Returns: false if memory ran out (the bytes were not kept).
    mutating func append(_ bytes: UnsafeRawBufferPointer, capacityLimit: Int) -> Bool {
        let count = bytes.count
        guard let current = output else {
            // A first short write usually leaves part of one read behind; round the
            // allocation up to a page so a few more reads fit before it must grow.
            let size = (OutputBuffer.dataOffset + count + 4095) & ~4095
            guard let memory = malloc(size) else { return false }
            OutputBuffer.header(memory).pointee = OutputBuffer(
                start: 0, end: UInt32(count), capacity: UInt32(size - OutputBuffer.dataOffset))
            memcpy(memory + OutputBuffer.dataOffset, bytes.baseAddress!, count)
            output = memory
            return true
        }
        var buffer = current
        var header = OutputBuffer.header(buffer).pointee
        if Int(header.end) + count > Int(header.capacity) {
            let pendingBytes = header.count
            if header.start > 0 {
                let data = buffer + OutputBuffer.dataOffset
                memmove(data, data + Int(header.start), pendingBytes)
                header.start = 0
                header.end = UInt32(pendingBytes)
            }
            if pendingBytes + count > Int(header.capacity) {
                let wanted = max(pendingBytes + count, min(Int(header.capacity) * 2, capacityLimit))
                let size = (OutputBuffer.dataOffset + wanted + 4095) & ~4095
                let capacity = size - OutputBuffer.dataOffset
                guard let grown = realloc(buffer, size) else {
                    OutputBuffer.header(buffer).pointee = header
                    return false
                }
                buffer = grown
                header.capacity = UInt32(capacity)
                output = grown
            }
        }
        memcpy(buffer + OutputBuffer.dataOffset + Int(header.end), bytes.baseAddress!, count)
        header.end += UInt32(count)
        OutputBuffer.header(buffer).pointee = header
        return true
    }

    /// Marks `count` pending bytes as written (fewer than are pending).
    mutating func consume(_ count: Int) {
        guard let output else { return }
        OutputBuffer.header(output).pointee.start += UInt32(count)
    }

    /// Bytes the pending-output allocation takes (0 without one).
    var outputAllocationSize: Int {
        output.map { OutputBuffer.dataOffset + Int(OutputBuffer.header($0).pointee.capacity) } ?? 0
    }

    /// Frees the pending output.
    mutating func releaseOutput() {
        free(output)
        output = nil
    }
}

/// The header at the start of a pending-output allocation; the data follows at `dataOffset`.
struct OutputBuffer {
    /// Offset of the first unsent byte in the data.
    var start: UInt32
    /// Offset just past the last pending byte.
    var end: UInt32
    /// Bytes of data the allocation holds.
    var capacity: UInt32

    static let dataOffset = 16

    /// The most bytes one connection may have pending. Offsets and capacity are 32-bit, and
    /// the allocation (header included) is rounded up to a page: with `dataOffset` plus the
    /// count below 2^32, the rounded allocation stays within 4 GiB, so its capacity fits too.
    /// Computed, so the check in `write` folds to a constant: no lazy global's once-call.
    @inline(__always)
    static var countLimit: Int { Int(clamping: UInt32.max) - dataOffset }

    /// What `Connection.write` throws for bytes beyond `countLimit`; out of line, so the
    /// message's code stays off the inlined write path.
    @inline(never)
    static func overLimit(_ fd: Int32) -> SelectorError {
        SelectorError(
            .write, fd: fd,
            .invalidArgument(
                "a connection queues at most \(countLimit) bytes (just under 4 GiB): "
                    + "write less at a time, or wait for .outputDrained"))
    }

    var count: Int { Int(end &- start) }

    @inline(__always)
    static func header(_ buffer: UnsafeMutableRawPointer) -> UnsafeMutablePointer<OutputBuffer> {
        buffer.assumingMemoryBound(to: OutputBuffer.self)
    }
}

/// Connection slots indexed by fd (all-zero bytes are an empty `ConnectionSlot`: a nil
/// pointer, time 0, generation 0, no flags): 24 bytes of resident memory per open fd.
typealias ConnectionSlots = DescriptorTable<ConnectionSlot>
