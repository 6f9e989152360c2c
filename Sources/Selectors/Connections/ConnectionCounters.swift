import Synchronization

/// What one `Connections` has done, counted as it happens; readable from any thread
/// (`Connections.counters`, or keep a reference). Relaxed atomics: each count is exact, but a
/// snapshot taken while the loop runs may mix moments.
public final class ConnectionCounters: Sendable {
    let adopted = Atomic<Int>(0)
    let open = Atomic<Int>(0)
    let bytesReceived = Atomic<Int>(0)
    let bytesSent = Atomic<Int>(0)
    let pendingBytes = Atomic<Int>(0)
    let peakPendingBytes = Atomic<Int>(0)
    let outputBufferBytes = Atomic<Int>(0)
    let readPauses = Atomic<Int>(0)
    let resetsSent = Atomic<Int>(0)
    let memoryTrims = Atomic<Int>(0)
    let closed = Atomic<Int>(0)
    let peerClosed = Atomic<Int>(0)
    let idle = Atomic<Int>(0)
    let aborted = Atomic<Int>(0)
    let resets = Atomic<Int>(0)
    let brokenPipes = Atomic<Int>(0)
    let otherFailures = Atomic<Int>(0)

    init() {}

    /// The counts now.
    public var snapshot: ConnectionStatistics {
        ConnectionStatistics(
            adopted: adopted.load(ordering: .relaxed), open: open.load(ordering: .relaxed),
            bytesReceived: UInt64(bytesReceived.load(ordering: .relaxed)),
            bytesSent: UInt64(bytesSent.load(ordering: .relaxed)),
            pendingBytes: pendingBytes.load(ordering: .relaxed),
            peakPendingBytes: peakPendingBytes.load(ordering: .relaxed),
            outputBufferBytes: outputBufferBytes.load(ordering: .relaxed),
            readPauses: readPauses.load(ordering: .relaxed), resetsSent: resetsSent.load(ordering: .relaxed),
            memoryTrims: memoryTrims.load(ordering: .relaxed), closed: closed.load(ordering: .relaxed),
            peerClosed: peerClosed.load(ordering: .relaxed), idle: idle.load(ordering: .relaxed),
            aborted: aborted.load(ordering: .relaxed), resets: resets.load(ordering: .relaxed),
            brokenPipes: brokenPipes.load(ordering: .relaxed),
            otherFailures: otherFailures.load(ordering: .relaxed))
    }

    func count(_ end: ConnectionEnd) {
        switch end {
        case .closed: closed.bump()
        case .peerClosed: peerClosed.bump()
        case .idle: idle.bump()
        case .aborted: aborted.bump()
        case .failed(.connectionReset): resets.bump()
        case .failed(.brokenPipe): brokenPipes.bump()
        case .failed: otherFailures.bump()
        }
    }
}

/// A snapshot of `ConnectionCounters`.
public struct ConnectionStatistics: Equatable, Sendable {
    /// Connections adopted so far.
    public var adopted = 0
    /// Connections open now.
    public var open = 0
    /// Bytes read.
    public var bytesReceived: UInt64 = 0
    /// Bytes written.
    public var bytesSent: UInt64 = 0
    /// Bytes written by the owner that the kernel has not taken yet.
    public var pendingBytes = 0
    /// The most bytes one connection has had pending.
    public var peakPendingBytes = 0
    /// Bytes of memory the pending output takes now (buffers hold more than they have pending).
    public var outputBufferBytes = 0
    /// Times a connection stopped reading because its output passed the high-water mark.
    public var readPauses = 0
    /// Connections ended with a reset because data was lost with them (see `ConnectionEnd.aborted`).
    public var resetsSent = 0
    /// Times freed buffer memory was given back to the system (`Options.releasesMemoryWhenIdle`).
    public var memoryTrims = 0
    /// Connections that ended `.closed`.
    public var closed = 0
    /// Connections that ended `.peerClosed`.
    public var peerClosed = 0
    /// Connections that ended `.idle`.
    public var idle = 0
    /// Connections that ended `.aborted`.
    public var aborted = 0
    /// Connections that ended `.failed(.connectionReset)`.
    public var resets = 0
    /// Connections that ended `.failed(.brokenPipe)`.
    public var brokenPipes = 0
    /// Connections that ended `.failed` with any other error.
    public var otherFailures = 0

    /// Adds `other`'s counts (peaks take the larger), to total several loops.
    public mutating func add(_ other: ConnectionStatistics) {
        adopted += other.adopted
        open += other.open
        bytesReceived &+= other.bytesReceived
        bytesSent &+= other.bytesSent
        pendingBytes += other.pendingBytes
        peakPendingBytes = max(peakPendingBytes, other.peakPendingBytes)
        outputBufferBytes += other.outputBufferBytes
        readPauses += other.readPauses
        resetsSent += other.resetsSent
        memoryTrims += other.memoryTrims
        closed += other.closed
        peerClosed += other.peerClosed
        idle += other.idle
        aborted += other.aborted
        resets += other.resets
        brokenPipes += other.brokenPipes
        otherFailures += other.otherFailures
    }
}

extension Atomic where Value == Int {
    /// Adds `amount` with a plain load and store: only one thread (the loop's) ever writes the
    /// counters, so no read-modify-write instruction is needed, and readers see whole values.
    /// Inlinable, so the echo service's counters (another module) pay no call (callgrind: 12
    /// instructions per connection cycle).
    @inlinable @inline(__always)
    package func bump(by amount: Int = 1) {
        store(load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    /// Raises the value to `candidate` if that is larger (single writer, as `bump`).
    @inlinable @inline(__always)
    package func raise(to candidate: Int) {
        if candidate > load(ordering: .relaxed) { store(candidate, ordering: .relaxed) }
    }
}
