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
