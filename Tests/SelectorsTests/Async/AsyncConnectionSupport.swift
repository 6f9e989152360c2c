import CSelectors
import Selectors
import Testing

/// The stream kinds an `AsyncConnection` serves in these tests.
enum Transport: String, CaseIterable, CustomStringConvertible, Sendable {
    case unix
    case tcp

    /// A connected pair, both ends non-blocking: `(ours, peer)`. The caller owns both.
    func makePair() throws -> (ours: Int32, peer: Int32) {
        switch self {
        case .unix: return try Socket.makePair()
        case .tcp:
            let (client, server) = try tcpPair()
            return (server, client)
        }
    }

    var description: String { rawValue }
}

/// An `AsyncConnections` on `loop` with `options`, made on the loop's thread.
func makePool(_ loop: EventLoop, _ options: Connections.Options = Connections.Options()) async throws
    -> AsyncConnections
{
    try await onLoopThread(loop) { io in
        Result { try AsyncConnections(on: io, options: options) }
    }.get()
}

// MARK: Fixtures: a loop thread, a connected pair, our end adopted

/// Runs `body` with a loop on a thread of its own (`withLoopThread`) and a `transport` pair
/// whose end `ours` is adopted on that loop with `AsyncConnection.adopt`: `body` gets the loop,
/// the connection and the raw `peer` fd, for the test to play the other end. Afterwards closes
/// `peer`, then shuts the loop down, also when `body` throws; closing the connection is left to
/// the test.
func withAdoptedConnection<Result>(
    _ backend: Backend, over transport: Transport = .unix,
    _ body: (_ loop: EventLoop, _ connection: AsyncConnection, _ peer: Int32) async throws -> Result
) async throws -> Result {
    try await withLoopThread(backend) { thread in
        let loop = thread.loop
        let (ours, peer) = try transport.makePair()
        defer { Socket.close(peer) }
        let connection = try await AsyncConnection.adopt(ours, on: loop)
        return try await body(loop, connection, peer)
    }
}

/// Like `withAdoptedConnection` over a Unix-domain pair, but `ours` is adopted into a pool
/// made with `options` (`makePool`), which `body` also gets, to count its waiters. Afterwards
/// closes `peer`, then shuts the loop down (and with it the pool), also when `body` throws.
func withPooledConnection<Result>(
    _ backend: Backend, _ options: Connections.Options = Connections.Options(),
    _ body: (_ loop: EventLoop, _ pool: AsyncConnections, _ connection: AsyncConnection, _ peer: Int32)
        async throws -> Result
) async throws -> Result {
    try await withConnectionInPool(backend, .unix, options, kernelBuffers: nil, body)
}

/// A connection that a few hundred KiB congest, for the backpressure tests: like
/// `withPooledConnection`, over `transport`, but both ends' kernel buffers are first shrunk to
/// `kernelBuffers` bytes (`shrinkBuffers`) and the pool has `smallWaterMarks()`. Afterwards
/// closes `peer`, then shuts the loop down, also when `body` throws.
func withBackpressuredConnection<Result>(
    _ backend: Backend, over transport: Transport = .unix, kernelBuffers: Int32 = 8 * 1024,
    _ body: (_ loop: EventLoop, _ pool: AsyncConnections, _ connection: AsyncConnection, _ peer: Int32)
        async throws -> Result
) async throws -> Result {
    try await withConnectionInPool(backend, transport, smallWaterMarks(), kernelBuffers: kernelBuffers, body)
}

/// The two above: a loop thread, a `transport` pair (its kernel buffers shrunk to
/// `kernelBuffers` when given, before anything else), a pool with `options`, `ours` adopted.
private func withConnectionInPool<Result>(
    _ backend: Backend, _ transport: Transport, _ options: Connections.Options, kernelBuffers: Int32?,
    _ body: (_ loop: EventLoop, _ pool: AsyncConnections, _ connection: AsyncConnection, _ peer: Int32)
        async throws -> Result
) async throws -> Result {
    try await withLoopThread(backend) { thread in
        let loop = thread.loop
        let (ours, peer) = try transport.makePair()
        defer { Socket.close(peer) }
        if let kernelBuffers {
            shrinkBuffers(ours, to: kernelBuffers)
            shrinkBuffers(peer, to: kernelBuffers)
        }
        let pool = try await makePool(loop, options)
        let connection = try await pool.adopt(ours)
        return try await body(loop, pool, connection, peer)
    }
}

/// Water marks small enough for a test to cross them with a few hundred KiB.
func smallWaterMarks() -> Connections.Options {
    var options = Connections.Options()
    options.highWaterMark = 64 * 1024
    options.lowWaterMark = 16 * 1024
    return options
}

/// Shrinks both kernel buffers of `fd`, so little data fills them.
func shrinkBuffers(_ fd: Int32, to bytes: Int32 = 8 * 1024) {
    try? Socket.setSendBufferSize(fd, bytes)
    try? Socket.setReceiveBufferSize(fd, bytes)
}

/// Tasks waiting in `read` or `write` on the connections of `pool` now.
func waiterCount(_ pool: AsyncConnections) async throws -> Int {
    try await onLoopThread(pool.loop) { _ in pool.waiterCount }
}

/// The connection's queued output now.
func pendingOutput(_ connection: AsyncConnection) async throws -> Int {
    try await onLoopThread(connection.loop) { _ in connection.pendingOutputCount }
}

/// Whether the connection is still open now.
func isOpen(_ connection: AsyncConnection) async throws -> Bool {
    try await onLoopThread(connection.loop) { _ in connection.isOpen }
}

/// Reads until end of stream with `read(upTo:)`, at most `limit` bytes.
func readToEnd(_ connection: AsyncConnection, limit: Int = 64 << 20) async throws -> [UInt8] {
    var bytes: [UInt8] = []
    while bytes.count <= limit {
        let chunk = try await connection.read(upTo: 64 * 1024)
        if chunk.isEmpty { return bytes }
        bytes += chunk
    }
    return bytes
}

/// Echoes everything `connection` reads with the zero-copy read and `send`, waiting only
/// while the output is above the high-water mark; closes at end of stream. Returns the bytes
/// echoed.
@discardableResult
func echo(_ connection: AsyncConnection) async throws -> Int {
    var total = 0
    while true {
        let count = try await connection.read { bytes in try connection.send(bytes) }
        if count == 0 { break }
        total += count
        try await connection.drained()
    }
    connection.close()
    return total
}
