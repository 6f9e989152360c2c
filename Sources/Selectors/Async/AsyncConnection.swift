/// A stream connection for async code: `read` suspends until there are bytes, `write`
/// suspends while too much output is queued. TCP, Unix-domain sockets and pipes.
///
/// ```swift
/// Task(executorPreference: connection.loop) {       // runs on the loop's thread: no hops
///     for try await chunk in connection.inbound {   // [UInt8], until end of stream
///         try await connection.write(chunk)
///     }
///     connection.close()
/// }
/// ```
///
/// Built on `Connections` (one per loop, see `AsyncConnections`): what is written goes out at
/// once and only the rest is queued; the loop writes the queue when the fd is writable and
/// resumes a task waiting in `write` once it falls to the low-water mark. Reading is the task's
/// own: each read tries the system call first and suspends only on `EAGAIN`; the loop resumes
/// the task when the fd becomes readable (on epoll and kqueue by the kernel's edge, with no
/// system call per wait). Nothing is read that no task asked for, so a slow task slows its
/// peer down through the kernel's buffers.
///
/// Every method may be called from any task. On the loop's thread (a task with the loop as its
/// executor preference, or an actor whose executor is the loop) nothing hops; from elsewhere
/// the call runs on the loop through `withTaskExecutorPreference`. Cancelling a task waiting
/// in `read` or `write` resumes it with `CancellationError` and leaves the connection open.
/// When the connection ends (the peer resets, `abort()`, the loop closes) waiting calls throw
/// `SelectorError` with `connectionClosed`. Dropping the last reference closes it (after
/// writing what is queued).
public final class AsyncConnection: @unchecked Sendable {
    // @unchecked: `connection` and the engine behind it are used only on `loop`'s thread
    // (every method checks, and hops there otherwise); the rest is immutable.

    /// The loop the connection is served on.
    public let loop: EventLoop
    /// The connection's file descriptor (do not close it yourself).
    public let fd: Int32
    private let connection: Connection

    init(_ connection: Connection, on loop: EventLoop) {
        self.connection = connection
        self.fd = connection.fd
        self.loop = loop
    }

    deinit {
        let connection = self.connection
        if loop.isOnLoopThread {
            connection.close()
        } else {
            let bound = UncheckedSendable(connection)
            try? loop.execute { bound.value.close() }
        }
    }

    /// Adopts `fd` (a connected, non-blocking stream) on `loop`, with the loop's default
    /// `AsyncConnections` (256 KiB / 64 KiB water marks). See `AsyncConnections.adopt`.
    nonisolated(nonsending) public static func adopt(_ fd: Int32, on loop: EventLoop) async throws
        -> AsyncConnection
    {
        try await AsyncConnections.onLoop(loop, adopting: fd) { io in
            try AsyncConnections.standard(on: io).adopt(fd, on: io)
        }
    }

    // MARK: Reading

    /// Reads what is available into `buffer`, waiting until something is; 0 at end of stream.
    /// - Throws: `SelectorError` with `invalidArgument` for an empty `buffer`, at once and
    ///   without a system call (a read into it could only return 0, which means end of
    ///   stream); otherwise `connectionClosed`, a failed read's `system` error (the connection
    ///   then closes) or `CancellationError`, as the type's documentation describes.
    nonisolated(nonsending) public func read(into buffer: UnsafeMutableRawBufferPointer) async throws -> Int {
        guard buffer.count > 0 else {
            throw SelectorError(
                .read, fd: fd, .invalidArgument("the buffer is empty (0 would mean end of stream)"))
        }
        while true {
            guard loop.isOnLoopThread else {
                let target = UncheckedSendable(buffer)
                return try await onLoop(.read) { try await read(into: target.value) }
            }
            if case .bytes(let count) = try connection.owner.pullRead(connection, into: buffer) {
                return count
            }
            try await waitReadable()
        }
    }

    /// Reads up to `maximum` bytes (at most 64 KiB, the loop's buffer), waiting until some
    /// are there; empty at end of stream. What is left stays for the next read.
    /// - Throws: `SelectorError` with `invalidArgument` for a `maximum` of 0 or less (an empty
    ///   result would mean end of stream); otherwise as `read(into:)`.
    nonisolated(nonsending) public func read(upTo maximum: Int = 64 * 1024) async throws -> [UInt8] {
        guard maximum > 0 else {
            throw SelectorError(.read, fd: fd, .invalidArgument("maximum must be above 0, not \(maximum)"))
        }
        var bytes: [UInt8] = []
        _ = try await read(atMost: maximum) { chunk in bytes = Array(chunk) }
        return bytes
    }

    /// Reads what is available into the loop's buffer and calls `body` with it, waiting until
    /// something is; returns the count (0 at end of stream, without calling `body`). The
    /// bytes are valid only during `body`, which cannot suspend. Write them on with `send` (an
    /// echo) or parse them there. On the loop's thread no copy is made; called from elsewhere
    /// (an actor, another executor), the bytes are copied and `body` runs back where it was
    /// called, never on the loop's thread beside the caller's own code.
    @discardableResult
    nonisolated(nonsending) public func read(_ body: (UnsafeRawBufferPointer) throws -> Void) async throws
        -> Int
    {
        try await read(atMost: Int.max, body)
    }

    /// `read(_:)`, reading no more than `maximum` bytes (the kernel keeps the rest).
    nonisolated(nonsending) private func read(
        atMost maximum: Int, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) async throws -> Int {
        while true {
            guard loop.isOnLoopThread else { return try await readOnLoop(atMost: maximum, body) }
            let whole = loop.readBuffer
            let buffer =
                maximum < whole.count ? UnsafeMutableRawBufferPointer(rebasing: whole[..<maximum]) : whole
            if case .bytes(let count) = try connection.owner.pullRead(connection, into: buffer) {
                if count > 0 { try body(UnsafeRawBufferPointer(start: buffer.baseAddress, count: count)) }
                return count
            }
            try await waitReadable()
        }
    }

    /// `read(atMost:_:)` after a hop to the loop. Out of line, like the other hops: a task's
    /// suspended frames live in its allocator's first 1 KiB slab while they fit, and the
    /// hop's closure and call, inlined, made the read's frame 336 bytes, which pushed each
    /// suspended echo task into a second slab (BENCHMARKS.md, "async/await on the loop").
    @inline(never)
    nonisolated(nonsending) private func readOnLoop(
        atMost maximum: Int, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) async throws -> Int {
        // `body` is the caller's (an actor's state, say): run on the loop's thread, it raced
        // the caller's other work. It runs here, after the hop back, on a copy.
        let bytes = try await onLoop(.read) { () async throws -> [UInt8] in
            var copy: [UInt8] = []
            _ = try await read(atMost: maximum) { copy = Array($0) }
            return copy
        }
        if !bytes.isEmpty { try bytes.withUnsafeBytes(body) }
        return bytes.count
    }

    /// The connection's chunks as they arrive, each an array of up to 64 KiB, until end of
    /// stream.
    public var inbound: InboundChunks { InboundChunks(connection: self) }

    // MARK: Writing

    /// Sends `bytes` now and queues what the kernel did not take, without waiting: for use
    /// inside `read(_:)`, on the loop's thread. Follow it with `drained()` (or use `write`) so
    /// a peer that does not read slows the writer down.
    /// - Throws: `connectionClosed`, `outputClosed`, `invalidArgument` when more than the
    ///   most one connection queues would be pending (see `Connection.write`; nothing is sent
    ///   then), `invalidArgument` off the loop's thread (nothing is sent; `write` works from
    ///   anywhere), or the write's error (the connection then closes).
    public func send(_ bytes: UnsafeRawBufferPointer) throws(SelectorError) {
        guard loop.isOnLoopThread else {
            throw SelectorError(
                .write, fd: fd,
                .invalidArgument("send runs on the loop's thread only: use write(_:) from elsewhere"))
        }
        try connection.write(bytes)
        if let failure = connection.owner.failure(of: connection) {
            throw SelectorError(.write, fd: fd, .system(failure))
        }
    }

    /// Sends `bytes` (see `send`), then waits while more than the high-water mark is queued.
    /// - Throws: `alreadyWaiting`, with nothing sent, while another task's `write` or
    ///   `drained` waits on this connection; see `send` for the rest.
    nonisolated(nonsending) public func write(_ bytes: UnsafeRawBufferPointer) async throws {
        guard loop.isOnLoopThread else {
            let source = UncheckedSendable(bytes)
            return try await onLoop(.write) { try await write(source.value) }
        }
        try checkNoWriterWaits()
        try send(bytes)
        try await waitWhileFull(afterSending: true)
    }

    /// A second writer would send and then find the first waiting: refused before it sends,
    /// so a caller that tries again does not send the bytes twice.
    private func checkNoWriterWaits() throws(SelectorError) {
        if connection.owner.isWaitingToDrain(connection) {
            throw SelectorError(.write, fd: fd, .alreadyWaiting)
        }
    }

    /// Sends `bytes`; see `write(_:)`.
    nonisolated(nonsending) public func write(_ bytes: [UInt8]) async throws {
        guard loop.isOnLoopThread else {
            return try await onLoop(.write) { try await write(bytes) }
        }
        try checkNoWriterWaits()
        try bytes.withUnsafeBytes { raw in Result { () throws(SelectorError) in try send(raw) } }.get()
        try await waitWhileFull(afterSending: true)
    }

    /// Sends `text` as UTF-8; see `write(_:)`.
    nonisolated(nonsending) public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }

    /// Waits while more than the high-water mark is queued (returns at once otherwise).
    nonisolated(nonsending) public func drained() async throws {
        try await waitWhileFull(afterSending: false)
    }

    /// `drained()`; after a `write` has sent its bytes (`afterSending`), a wait another task
    /// began meanwhile (while this one's resumption was on its way) ends this one's instead of
    /// failing it with `alreadyWaiting`: its bytes are sent, and a caller told otherwise
    /// would send them again. The other task's wait keeps the backpressure.
    nonisolated(nonsending) private func waitWhileFull(afterSending: Bool) async throws {
        while true {
            guard loop.isOnLoopThread else { return try await drainedOnLoop() }
            // Most calls find room: no cancellation handler, no continuation.
            guard connection.isOutputFull else { return }
            if afterSending && connection.owner.isWaitingToDrain(connection) { return }
            let id = loop.waiterIDs.wrappingAdd(1, ordering: .relaxed).newValue
            let engine = connection.owner
            let connection = self.connection
            try await withTaskCancellationHandler {
                try await engine.waitDrained(connection, id: id)
            } onCancel: {
                cancel(id)
            }
        }
    }

    /// `drained()` after a hop to the loop; out of line (see `readOnLoop`).
    @inline(never)
    nonisolated(nonsending) private func drainedOnLoop() async throws {
        try await onLoop(.write) { try await drained() }
    }

    /// Bytes written but not yet taken by the kernel. Loop thread: it traps anywhere else, in
    /// release builds too, rather than let a data race through (as `assumeIsolated` does).
    public var pendingOutputCount: Int {
        precondition(loop.isOnLoopThread, "AsyncConnection.pendingOutputCount read off the loop's thread")
        return connection.pendingOutputCount
    }

    // MARK: Ending

    /// Half-closes once the queue is written: the peer sees end of stream; reading goes on.
    public func shutdownOutput() {
        onLoopLater { $0.shutdownOutput() }
    }

    /// Writes what is queued, then closes. Waiting calls fail with `connectionClosed`. During
    /// a drain (`AsyncConnections.drain`), which closes the connection already, it does nothing.
    public func close() {
        onLoopLater { $0.close() }
    }

    /// Closes at once with a reset, dropping what is queued.
    public func abort() {
        onLoopLater { $0.abort() }
    }

    /// Whether the connection is still open. Loop thread: it traps anywhere else, as
    /// `pendingOutputCount` does.
    public var isOpen: Bool {
        precondition(loop.isOnLoopThread, "AsyncConnection.isOpen read off the loop's thread")
        return connection.isOpen
    }

    // MARK: Waiting on the loop

    /// Suspends until the loop finds the connection readable (on the loop's thread). The
    /// caller tries the read again: the task resumes on its own executor, which is the loop
    /// when it runs there, and the callers check before using the connection.
    ///
    /// What a wait costs, measured with callgrind on the async echo server (`API=async
    /// PACE=0.001 count.sh epoll rr 2000 6000`, every round trip a real wait): about 4,900
    /// instructions per round trip against 495 for the callback server. Nearly all of the
    /// difference is the concurrency runtime's: for a task with an executor preference, each
    /// enqueue and each executor switch looks the preference up under the task's status
    /// lock, and the cancellation handler adds and removes a status record per wait (about
    /// 1,700 of it; `_unsafeInheritExecutor_withTaskCancellationHandler` saved 550 of those,
    /// not enough to justify an underscored API).
    nonisolated(nonsending) private func waitReadable() async throws {
        let id = loop.waiterIDs.wrappingAdd(1, ordering: .relaxed).newValue
        let engine = connection.owner
        let connection = self.connection
        try await withTaskCancellationHandler {
            try await engine.waitReadable(connection, id: id)
        } onCancel: {
            cancel(id)
        }
    }

    /// Runs `body` on the loop's thread, with the loop as the task's executor preference.
    /// Once the loop is closed its jobs run on other threads (see `EventLoop+Executor`) and
    /// the connection has ended with it: then this throws `connectionClosed`, rather than let
    /// the caller hop again, which would be at once and forever.
    nonisolated(nonsending) private func onLoop<Result>(
        _ operation: SelectorError.Operation, _ body: () async throws -> Result
    ) async throws -> Result {
        try await withTaskExecutorPreference(loop) {
            guard loop.isOnLoopThread else { throw SelectorError(operation, fd: fd, .connectionClosed) }
            return try await body()
        }
    }

    /// Runs `body` with the connection on the loop's thread, now or soon (never waits).
    private func onLoopLater(_ body: @escaping (Connection) -> Void) {
        if loop.isOnLoopThread { return body(connection) }
        let bound = UncheckedSendable((connection, body))
        try? loop.execute { bound.value.1(bound.value.0) }
    }

    /// Cancels wait `id` (called from any thread, by the task's cancellation).
    private func cancel(_ id: UInt64) {
        onLoopLater { connection in connection.owner.cancelWait(connection, id: id) }
    }
}

/// The chunks of an `AsyncConnection`, as an `AsyncSequence`: each `next()` reads (and
/// waits); `nil` at end of stream.
public struct InboundChunks: AsyncSequence {
    let connection: AsyncConnection

    /// Reads the chunks one at a time.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let connection: AsyncConnection

        /// The next chunk, or `nil` at end of stream.
        public nonisolated(nonsending) mutating func next() async throws -> [UInt8]? {
            let chunk = try await connection.read(upTo: 64 * 1024)
            return chunk.isEmpty ? nil : chunk
        }
    }

    /// Starts reading.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(connection: connection) }
}

/// A value sent to the loop's thread, where alone it is used (the library's own hops).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
