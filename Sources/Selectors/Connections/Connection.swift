/// One connection of a `Connections`: a handle to call on the loop's thread.
///
/// A value that names the connection (its fd and which connection on that fd it was), so it can
/// be kept in a set or a dictionary. Once the connection has ended, the handle is dead: `write`
/// throws `connectionClosed`, the other calls do nothing, even after the fd number has been
/// reused for a new connection.
public struct Connection: Hashable, CustomStringConvertible {
    /// The connection's file descriptor (valid while it is open; do not close it yourself).
    public let fd: Int32
    let generation: UInt32
    let owner: Connections

    init(fd: Int32, generation: UInt32, owner: Connections) {
        self.fd = fd
        self.generation = generation
        self.owner = owner
    }

    /// Sends `bytes` now (`send`, or `write` for a pipe) and queues what the kernel did not take,
    /// to be written when the fd is writable. Nothing is lost: a failure closes the connection
    /// with `.closed(.failed(error))` at the loop's next turn.
    /// - Throws: `connectionClosed` on a dead handle; `outputClosed` after `close()`,
    ///   `shutdownOutput()` or a failed write; `invalidArgument` when the bytes and what is
    ///   pending together pass the most one connection queues, just under 4 GiB (2^32 - 17
    ///   bytes): nothing is sent then.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SelectorError) {
        try owner.write(self, bytes)
    }

    /// Sends `bytes` (an array, a slice, any sequence of bytes); see `write(_:)`.
    public func write(_ bytes: some Sequence<UInt8>) throws(SelectorError) {
        // `withContiguousStorageIfAvailable` rethrows untyped errors: a Result carries the
        // typed one out.
        let written = bytes.withContiguousStorageIfAvailable { storage in
            Result { () throws(SelectorError) in try owner.write(self, UnsafeRawBufferPointer(storage)) }
        }
        if let written { return try written.get() }
        try Array(bytes).withUnsafeBytes { raw in
            Result { () throws(SelectorError) in try owner.write(self, raw) }
        }
        .get()
    }

    /// Sends `text` as UTF-8; see `write(_:)`.
    public func write(_ text: String) throws(SelectorError) {
        var text = text
        try text.withUTF8 { utf8 in
            Result { () throws(SelectorError) in try owner.write(self, UnsafeRawBufferPointer(utf8)) }
        }.get()
    }

    /// Stops reading, writes what is queued, then closes (`.closed(.closed)`). What the peer
    /// sent meanwhile is read and dropped just before the close, which would otherwise be a
    /// reset (on TCP) destroying the end of what was written. Input that arrives after the
    /// close can still do that, as with any socket closed while its peer sends: where the peer
    /// may send after the answer (pipelined requests), end with `shutdownOutput()` and close
    /// once the peer has ended its side, as `Examples/HTTPHello` does. Does nothing on a dead
    /// handle, nor during a drain (`Connections.drain`), which closes it already.
    public func close() {
        owner.close(self)
    }

    /// Half-closes: once what is queued is written, sends end of stream (`shutdown(SHUT_WR)`)
    /// and keeps reading until the peer ends its side. A pipe or pty, which has no half-close,
    /// is closed instead.
    public func shutdownOutput() {
        owner.shutdownOutput(self)
    }

    /// Closes at once, dropping what is queued, with a reset (`SO_LINGER` 0) so the peer learns
    /// it was cut off (`.closed(.aborted)`).
    public func abort() {
        owner.abort(self)
    }

    /// Stops reading until `resumeReading()`; the peer's bytes wait in the kernel meanwhile.
    /// While paused with nothing queued, the connection does not age toward
    /// `Options.idleTimeout` (its peer is not the one holding it up).
    public func pauseReading() {
        owner.setReadingPaused(self, true)
    }

    /// Reads again after `pauseReading()`.
    public func resumeReading() {
        owner.setReadingPaused(self, false)
    }

    /// Whether the connection is open (it has not ended; a close may be under way).
    public var isOpen: Bool { owner.liveSlot(self) != nil }

    /// Bytes written but not yet taken by the kernel.
    public var pendingOutputCount: Int { owner.liveSlot(self)?.pointee.pendingCount ?? 0 }

    /// Whether the queue passed the high-water mark and has not fallen to the low one.
    public var isOutputFull: Bool { owner.liveSlot(self)?.pointee.flags.contains(.outputFull) ?? false }

    /// Two handles are equal when they name the same connection.
    public static func == (lhs: Connection, rhs: Connection) -> Bool {
        lhs.fd == rhs.fd && lhs.generation == rhs.generation && lhs.owner === rhs.owner
    }

    /// Hashes the fd and the connection's generation.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(fd)
        hasher.combine(generation)
    }

    /// For example `connection(fd: 7)`.
    public var description: String { "connection(fd: \(fd))" }
}

@available(*, unavailable, message: "a Connection belongs to its loop's thread")
extension Connection: Sendable {}
