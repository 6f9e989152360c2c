/// What `Connections` tells its handler about one connection.
///
/// Each event is delivered on the loop's thread, from the loop itself, never from inside a
/// call the handler made (a `write` that fails, a `close` that can finish at once): those
/// report their outcome at the loop's next turn, so a handler never re-enters itself.
public enum ConnectionEvent {
    /// Bytes arrived. The buffer is the loop's and valid only during the call: write it on
    /// (`connection.write(bytes)` sends at once and keeps only what the kernel did not take),
    /// parse it, or copy what must outlive the call.
    case received(UnsafeRawBufferPointer)
    /// The peer ended its side (a read returned 0). Unless `Options.halfClose` is set, the
    /// connection then closes by itself once its pending output is written (`.closed(.peerClosed)`);
    /// with it, the connection stays open for writing until the handler closes it.
    case endOfInput
    /// The pending output passed `Options.highWaterMark` (reading is paused meanwhile if
    /// `Options.pausesReadingWhenFull`): stop writing to this connection for now.
    case outputFull
    /// The pending output fell back to `Options.lowWaterMark` after `.outputFull`.
    case outputDrained
    /// The connection is closed, its fd too; the handle is dead (its calls throw). The last
    /// event of every connection.
    case closed(ConnectionEnd)
}

/// How a connection ended.
public enum ConnectionEnd: Equatable, Sendable, CustomStringConvertible {
    /// The owner closed it (`close()`), after its pending output was written, while the peer
    /// had not ended its side.
    case closed
    /// The peer ended its side and everything pending was written (`.endOfInput` came first),
    /// whether the connection then closed by itself or the owner closed it.
    case peerClosed
    /// No progress for `Options.idleTimeout`.
    case idle
    /// Closed with data lost: `abort()`, `closeAll()`, a drain that ran out of time, or
    /// `Connections` going away. The peer saw a reset if anything it sent or was sent was
    /// lost with it.
    case aborted
    /// A read or write failed: `ECONNRESET` or `EPIPE` when the peer reset or went away,
    /// anything else when something is wrong.
    case failed(Errno)

    /// For example `failed: ECONNRESET (Connection reset by peer)`.
    public var description: String {
        switch self {
        case .closed: "closed"
        case .peerClosed: "closed by the peer"
        case .idle: "idle"
        case .aborted: "aborted"
        case .failed(let error): "failed: \(error)"
        }
    }
}
