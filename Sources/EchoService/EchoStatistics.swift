import Selectors
import Synchronization

/// What an echo server has done, summed over its loops. Read it from any thread with
/// `RunningEchoServer.statistics`; each field is exact, but fields are read one at a time, so
/// a snapshot taken while clients are active may mix instants.
public struct EchoStatistics: Sendable, Equatable, CustomStringConvertible {
    /// Connections accepted and served (rejected ones not included).
    public var accepted = 0
    /// Connections open now.
    public var active = 0
    /// Connections accepted and closed at once because `maxConnections` were open.
    public var rejected = 0
    /// Connections closed for being idle longer than `idleTimeout`.
    public var idleClosed = 0
    /// Connections the client ended normally (end of stream), after everything pending
    /// had been written back. Clients that reset are counted in `errors.resets` and
    /// `errors.brokenPipes` instead.
    public var closedByClient = 0
    /// Connections the server closed at shutdown with nothing pending either way.
    public var closedAtShutdown = 0
    /// Bytes read from clients.
    public var bytesReceived: UInt64 = 0
    /// Bytes written back to clients.
    public var bytesEchoed: UInt64 = 0
    /// Bytes read but not yet written back, over all connections, now.
    public var pendingBytes = 0
    /// The most bytes ever pending for one connection: at most `highWaterMark` plus one
    /// read (64 KiB), since reading stops above the high-water mark.
    public var peakPendingBytes = 0
    /// How many times a connection stopped reading because of the high-water mark.
    public var readPauses = 0
    /// How many times accepting paused for `acceptRetryDelay` after an `accept` failure.
    public var acceptPauses = 0
    /// The most memory the output buffers of all connections together have taken: at most
    /// `totalHighWaterMark` plus one buffer's growth per loop (one read's worth of pending
    /// bytes, a buffer's capacity at most doubling), since every loop stops reading above it.
    public var peakOutputBufferBytes = 0
    /// How many times every connection stopped reading because the output buffers of all of
    /// them together passed `totalHighWaterMark`.
    public var totalReadPauses = 0
    /// Connections the server closed with a reset (RST) because bytes were lost with them:
    /// output still pending, or input that was never echoed (at shutdown, when stopped, or
    /// closed idle). The client sees `ECONNRESET`, not an end of stream it could mistake for
    /// "everything was echoed".
    public var aborted = 0
    /// Bytes allocated for pending output now, over all connections: at most the high-water
    /// mark plus one read (64 KiB), rounded up to a page, per connection.
    public var outputBufferBytes = 0
    /// How many times freed output buffers were given back to the system (`malloc_trim`)
    /// once a loop had nothing pending.
    public var memoryTrims = 0
    /// Failures, by kind.
    public var errors = Errors()

    /// Failures by kind. Connection failures close only that connection.
    public struct Errors: Sendable, Equatable {
        /// Connections reset by the peer (`ECONNRESET` on read or write). Also what a client
        /// that closes without reading all its echo looks like: its system answers the
        /// echo with a reset. The summary counts these as resets by clients, not as errors.
        public var resets = 0
        /// Writes to a connection the peer had closed (`EPIPE`); like `resets`, the client's
        /// doing.
        public var brokenPipes = 0
        /// `accept` failures for lack of descriptors (`EMFILE`, `ENFILE`).
        public var descriptorExhaustion = 0
        /// Other `accept` failures (`ENOBUFS`, `ENOMEM`, ...).
        public var accept = 0
        /// Accepted connections the selector refused (for example, fds at or above
        /// `FD_SETSIZE` with the select backend where the kernel has that limit); they are
        /// closed at once.
        public var registration = 0
        /// Any other read or write failure (`ETIMEDOUT`, ...).
        public var other = 0

        /// The sum of all kinds.
        public var total: Int { resets + brokenPipes + descriptorExhaustion + accept + registration + other }

        /// Failures that are the server's side's (not a client's reset): all but `resets`
        /// and `brokenPipes`.
        public var serverSide: Int { descriptorExhaustion + accept + registration + other }
    }

    /// One line, as the command line prints it on exit: connections by how they ended,
    /// bytes, and the server-side errors (resets by clients are not errors of the server).
    public var description: String {
        "accepted \(accepted) connection\(accepted == 1 ? "" : "s") (\(rejected) rejected); "
            + "closed by clients \(closedByClient), reset by clients \(errors.resets + errors.brokenPipes), "
            + "closed idle \(idleClosed), closed at shutdown \(closedAtShutdown), aborted by the server \(aborted); "
            + "echoed \(bytesEchoed) of \(bytesReceived) bytes received, peak pending \(peakPendingBytes) bytes, "
            + "\(readPauses) read pause\(readPauses == 1 ? "" : "s"); errors: "
            + "\(errors.descriptorExhaustion) out of descriptors, \(errors.accept + errors.registration + errors.other) other"
    }

    /// One line for a running server: what is open and pending now, then `description`.
    public var live: String {
        "\(active) open, \(pendingBytes) bytes pending in \(outputBufferBytes) bytes of buffers, \(acceptPauses) accept pause\(acceptPauses == 1 ? "" : "s"); "
            + description
    }

    mutating func add(_ other: EchoStatistics) {
        accepted += other.accepted
        active += other.active
        rejected += other.rejected
        idleClosed += other.idleClosed
        closedByClient += other.closedByClient
        closedAtShutdown += other.closedAtShutdown
        bytesReceived &+= other.bytesReceived
        bytesEchoed &+= other.bytesEchoed
        pendingBytes += other.pendingBytes
        peakPendingBytes = max(peakPendingBytes, other.peakPendingBytes)
        readPauses += other.readPauses
        acceptPauses += other.acceptPauses
        peakOutputBufferBytes = max(peakOutputBufferBytes, other.peakOutputBufferBytes)
        totalReadPauses += other.totalReadPauses
        aborted += other.aborted
        memoryTrims += other.memoryTrims
        outputBufferBytes += other.outputBufferBytes
        errors.resets += other.errors.resets
        errors.brokenPipes += other.errors.brokenPipes
        errors.descriptorExhaustion += other.errors.descriptorExhaustion
        errors.accept += other.errors.accept
        errors.registration += other.errors.registration
        errors.other += other.errors.other
    }
}

/// One loop's accept-side counters (its connections' are `ConnectionCounters`). Only the loop
/// thread writes them, so an update is a relaxed load and store (plain moves on x86 and ARM,
/// no locked instruction), while any thread may read them.
final class EchoCounters: Sendable {
    let accepted = Atomic<Int>(0)
    let rejected = Atomic<Int>(0)
    let acceptPauses = Atomic<Int>(0)
    let descriptorExhaustion = Atomic<Int>(0)
    let acceptErrors = Atomic<Int>(0)
    let registrationErrors = Atomic<Int>(0)

    /// An accept failed: out of descriptors, or another error.
    func acceptPaused(_ error: Errno) {
        acceptPauses.bump()
        if error == .tooManyOpenFiles || error == .tooManyOpenFilesInSystem {
            descriptorExhaustion.bump()
        } else {
            acceptErrors.bump()
        }
    }

    /// The loop's statistics: these counts and its connections'.
    func snapshot(with connections: ConnectionStatistics) -> EchoStatistics {
        var result = EchoStatistics()
        result.accepted = accepted.load(ordering: .relaxed)
        result.rejected = rejected.load(ordering: .relaxed)
        result.acceptPauses = acceptPauses.load(ordering: .relaxed)
        result.active = connections.open
        result.idleClosed = connections.idle
        result.closedByClient = connections.peerClosed
        result.closedAtShutdown = connections.closed
        result.bytesReceived = connections.bytesReceived
        result.bytesEchoed = connections.bytesSent
        result.pendingBytes = connections.pendingBytes
        result.peakPendingBytes = connections.peakPendingBytes
        result.readPauses = connections.readPauses
        result.aborted = connections.resetsSent
        result.memoryTrims = connections.memoryTrims
        result.outputBufferBytes = connections.outputBufferBytes
        result.errors.resets = connections.resets
        result.errors.brokenPipes = connections.brokenPipes
        result.errors.descriptorExhaustion = descriptorExhaustion.load(ordering: .relaxed)
        result.errors.accept = acceptErrors.load(ordering: .relaxed)
        result.errors.registration = registrationErrors.load(ordering: .relaxed)
        result.errors.other = connections.otherFailures
        return result
    }
}
