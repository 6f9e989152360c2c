import CSelectors
import Selectors
import Testing

/// The trigger modes a `Connections` accepts; every behaviour that does not depend on the
/// mode runs in both.
let connectionTriggers: [Trigger] = [.level, .edge]

/// One event of a `Connections`, copied out of the handler (the `.received` buffer is only
/// valid during the call).
enum RecordedEvent: Equatable, CustomStringConvertible {
    case received(Int)
    case endOfInput
    case outputFull
    case outputDrained
    case closed(ConnectionEnd)

    init(_ event: ConnectionEvent) {
        switch event {
        case .received(let bytes): self = .received(bytes.count)
        case .endOfInput: self = .endOfInput
        case .outputFull: self = .outputFull
        case .outputDrained: self = .outputDrained
        case .closed(let end): self = .closed(end)
        }
    }

    var description: String {
        switch self {
        case .received(let count): "received(\(count))"
        case .endOfInput: "endOfInput"
        case .outputFull: "outputFull"
        case .outputDrained: "outputDrained"
        case .closed(let end): "closed(\(end))"
        }
    }

    /// The event with byte counts left out, for comparing orders of events.
    var isReceived: Bool {
        if case .received = self { return true }
        return false
    }
}

/// Records what a `Connections` tells its handler, per connection, and checks the rules every
/// connection obeys: nothing after `.closed`, and nothing delivered from inside a call made
/// through `calling(_:)` (the test's or the handler's own calls into the connection).
final class ConnectionLog {
    private(set) var events: [(connection: Connection, event: RecordedEvent)] = []
    /// The bytes each connection received, in order (keyed by the handle, not the fd number).
    private(set) var bytes: [Connection: [UInt8]] = [:]
    /// Broken rules, as text, for one `#expect(log.violations.isEmpty)`.
    private(set) var violations: [String] = []
    /// Runs after each event is recorded: the test's own reaction (echo, close, ...).
    var reaction: ((Connection, ConnectionEvent) -> Void)?
    /// Whether `.received` bytes are kept in `bytes` (off for the multi-megabyte echoes).
    var keepsBytes = true
    private var ended: Set<Connection> = []
    private var callDepth = 0

    /// The handler to give `Connections.init`.
    func handle(_ connection: Connection, _ event: ConnectionEvent) {
        let recorded = RecordedEvent(event)
        if callDepth > 0 {
            violations.append("\(recorded) for \(connection) delivered inside a call")
        }
        if ended.contains(connection) {
            violations.append("\(recorded) for \(connection) after its .closed")
        }
        if case .closed = recorded { ended.insert(connection) }
        if case .received(let buffer) = event, keepsBytes {
            bytes[connection, default: []].append(contentsOf: buffer)
        }
        events.append((connection, recorded))
        reaction?(connection, event)
    }

    /// Runs `body` (a call into a connection); an event delivered before it returns is a
    /// violation of "never nested inside a call the handler made".
    func calling<Result>(_ body: () throws -> Result) rethrows -> Result {
        callDepth += 1
        defer { callDepth -= 1 }
        return try body()
    }

    /// The events of `connection`, in order.
    func events(of connection: Connection) -> [RecordedEvent] {
        events.filter { $0.connection == connection }.map(\.event)
    }

    /// The events of `connection` other than `.received`, in order.
    func notices(of connection: Connection) -> [RecordedEvent] {
        events(of: connection).filter { !$0.isReceived }
    }

    /// How `connection` ended, if it has.
    func end(of connection: Connection) -> ConnectionEnd? {
        for (other, event) in events.reversed() where other == connection {
            if case .closed(let end) = event { return end }
        }
        return nil
    }

    /// How many bytes `connection` has received.
    func receivedCount(of connection: Connection) -> Int {
        events(of: connection).reduce(0) { total, event in
            if case .received(let count) = event { return total + count }
            return total
        }
    }
}

/// Options with the given trigger and everything else at its default.
func connectionOptions(_ trigger: Trigger, _ adjust: (inout Connections.Options) -> Void = { _ in })
    -> Connections
    .Options
{
    var options = Connections.Options()
    options.trigger = trigger
    adjust(&options)
    return options
}

/// Runs `body` with a fresh loop on `backend` and a `Connections` on it that reports to a
/// `ConnectionLog`; afterwards closes every connection left and the loop.
///
/// The loop runs on the test's thread: the test drives it with `runOnceUntil` and plays the
/// peer itself between iterations, through non-blocking descriptors, so no test needs a
/// second thread to be the other end.
func withConnections<Result>(
    backend: Backend, options: Connections.Options,
    _ body: (IsolatedEventLoop, Connections, ConnectionLog) throws -> Result
) throws -> Result {
    let loop = try EventLoop(backend: backend).assumeIsolated()
    defer { loop.close() }
    let log = ConnectionLog()
    let connections = try Connections(loop: loop, options: options, handler: log.handle)
    defer {
        // Breaks the cycles a test's reaction may have made through the log.
        log.reaction = nil
        connections.closeAll()
    }
    return try body(loop, connections, log)
}

extension OpenDescriptors {
    /// Hands `fd` over to `connections`: from now on `Connections` closes it, so the bag
    /// forgets it (closing it again could close another test's descriptor).
    func handOver(_ fd: Int32, to connections: Connections) throws -> Connection {
        let connection = try connections.adopt(fd)
        forget(fd)
        return connection
    }

    /// Makes `fd`'s send buffer as small as the kernel allows (`SO_SNDBUF`), so a write comes
    /// up short after a few kilobytes.
    func shrinkSendBuffer(_ fd: Int32) throws {
        var size: Int32 = 4096
        guard setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw Errno(rawValue: cselectors_errno())
        }
    }

    /// Makes `fd`'s receive buffer as small as the kernel allows (`SO_RCVBUF`).
    func shrinkReceiveBuffer(_ fd: Int32) throws {
        var size: Int32 = 4096
        guard setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw Errno(rawValue: cselectors_errno())
        }
    }
}

/// The byte at `offset` of the test streams: a pattern whose period (251, a prime) divides
/// no buffer size, so a lost, repeated or reordered chunk shows up as a mismatch.
@inline(__always)
func patternByte(_ offset: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: offset % 251)
}

/// `count` bytes of the pattern starting at `offset`.
func patternBytes(from offset: Int, count: Int) -> [UInt8] {
    (0..<count).map { patternByte(offset + $0) }
}

/// The pattern laid out once, long enough that any run of up to `patternChunkLimit` bytes
/// starting anywhere in it is one slice (`offset % 251` onwards): no per-byte work per write
/// or check, which a debug build would feel over megabytes.
private let patternBlock: [UInt8] = patternBytes(from: 0, count: patternChunkLimit + 251)
let patternChunkLimit = 256 * 1024

/// The far end of a connection, played by the test between loop iterations: writes a
/// pattern stream as fast as the kernel takes it and checks every byte that comes back.
final class PatternPeer {
    let fd: Int32
    let total: Int
    private(set) var sent = 0
    private(set) var received = 0
    private(set) var mismatch: String?
    private(set) var endOfFile = false
    private(set) var error: Errno?
    private var buffer = [UInt8](repeating: 0, count: patternChunkLimit)

    init(fd: Int32, total: Int) {
        self.fd = fd
        self.total = total
    }

    var isDone: Bool { received == total || mismatch != nil || error != nil || endOfFile }

    /// One round: write what the kernel takes (up to 256 KiB), read what is there. Never
    /// blocks.
    func pump(writing: Bool = true, reading: Bool = true) {
        if writing && sent < total {
            let count = min(patternChunkLimit, total - sent)
            let start = sent % 251
            let written = patternBlock.withUnsafeBytes {
                CSelectors.write(fd, $0.baseAddress! + start, count)
            }
            if written > 0 {
                sent += written
            } else if written < 0, cselectors_errno() != EAGAIN {
                error = Errno(rawValue: cselectors_errno())
            }
        }
        guard reading else { return }
        while mismatch == nil {
            let count = buffer.withUnsafeMutableBytes { CSelectors.read(fd, $0.baseAddress, $0.count) }
            if count == 0 {
                endOfFile = true
                return
            }
            if count < 0 {
                if cselectors_errno() != EAGAIN { error = Errno(rawValue: cselectors_errno()) }
                return
            }
            let start = received % 251
            let same = buffer.withUnsafeBytes { got in
                patternBlock.withUnsafeBytes { want in
                    memcmp(got.baseAddress!, want.baseAddress! + start, count) == 0
                }
            }
            if !same || received + count > total {
                mismatch = "\(count) bytes at offset \(received) differ from what was sent"
            }
            received += count
        }
    }
}

/// What one non-blocking `read` of `fd` gives: bytes, end of file, or an error.
enum ReadOutcome: Equatable {
    case bytes(Int)
    case endOfFile
    case wouldBlock
    case failed(Errno)
}

func readOnce(_ fd: Int32) -> ReadOutcome {
    var buffer = [UInt8](repeating: 0, count: 65_536)
    let count = buffer.withUnsafeMutableBytes { CSelectors.read(fd, $0.baseAddress, $0.count) }
    if count > 0 { return .bytes(count) }
    if count == 0 { return .endOfFile }
    let error = Errno(rawValue: cselectors_errno())
    return error == .wouldBlock ? .wouldBlock : .failed(error)
}

/// `readOnce` once `fd` has something to report, waiting up to `limit` for it: for checking
/// the end of stream a close on our side sent. On loopback the peer's kernel usually has the
/// FIN before `close` returns, but on a loaded machine the packet is handed to the softirq
/// thread and arrives a moment later (a single read then saw `EAGAIN`).
func readOnceWhenReady(_ fd: Int32, limit: Duration = .seconds(10)) -> ReadOutcome {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    _ = poll(&entry, 1, Int32(limit.components.seconds * 1000))
    return readOnce(fd)
}

/// Reads `fd` until end of file or an error, running `loop` in between (the loop is what
/// writes); returns the bytes and how the stream ended.
func readToEnd(
    _ fd: Int32, running loop: IsolatedEventLoop, limit: Duration = .seconds(10),
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> (bytes: [UInt8], end: ReadOutcome) {
    let reader = StreamReader(fd)
    try runOnceUntil(loop, limit: limit, sourceLocation: sourceLocation) { reader.readAvailable() }
    return (reader.bytes, reader.end)
}

/// Collects what a non-blocking fd delivers until end of file or an error.
final class StreamReader {
    let fd: Int32
    private(set) var bytes: [UInt8] = []
    private(set) var end: ReadOutcome = .wouldBlock
    private var buffer = [UInt8](repeating: 0, count: 65_536)

    init(_ fd: Int32) { self.fd = fd }

    /// Reads what is there; true once the stream ended (end of file or an error).
    func readAvailable() -> Bool {
        while true {
            let count = buffer.withUnsafeMutableBytes { CSelectors.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes += buffer[..<count]
                continue
            }
            if count == 0 {
                end = .endOfFile
                return true
            }
            let error = Errno(rawValue: cselectors_errno())
            if error == .wouldBlock { return false }
            end = .failed(error)
            return true
        }
    }
}
