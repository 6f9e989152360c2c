import CSelectors
import EchoService
import Selectors
import Synchronization

/// A test failure with a message, thrown from client threads and helpers.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Monotonic seconds, for deadlines.
func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func sleep(seconds: Double) {
    usleep(UInt32(seconds * 1_000_000))
}

/// Polls `condition` every 10 ms until it holds or `timeout` seconds pass.
func eventually(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = now() + timeout
    while true {
        if condition() { return true }
        if now() > deadline { return false }
        sleep(seconds: 0.01)
    }
}

/// Starts an in-process server on 127.0.0.1 (or `host`), port 0, with `backend`, serving in
/// `mode` (by default the callback API, level-triggered: the configuration's defaults).
func startServer(
    _ backend: Backend, mode: EchoMode = .level, host: String = "127.0.0.1",
    _ adjust: (inout EchoServer.Configuration) -> Void = { _ in }
) throws -> RunningEchoServer {
    var configuration = EchoServer.Configuration()
    configuration.host = host
    configuration.port = 0
    configuration.backend = backend
    mode.apply(to: &configuration)
    adjust(&configuration)
    return try EchoServer.start(configuration)
}

/// Blocking client sockets with send/receive timeouts, so no test can hang on them.
enum Client {
    /// Connects (blocking) and sets 20 s send and receive timeouts.
    static func connect(_ address: SocketAddress) throws -> Int32 {
        let (fd, _) = try Socket.connect(to: address)
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        let size = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, size)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, size)
        return fd
    }

    /// Sends `message` while reading the echo, checking every byte against the message as it
    /// arrives (the socket is non-blocking during the exchange, so a large message cannot
    /// deadlock against the server's backpressure). With `halfClose`, shuts down the write
    /// side after the last byte and then requires end of stream after the whole echo.
    static func exchange(
        _ fd: Int32, _ message: UnsafeRawBufferPointer, halfClose: Bool = false, timeout: Double = 30
    ) throws {
        try Socket.setNonBlocking(fd, true)
        defer { try? Socket.setNonBlocking(fd, false) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var sent = 0
        var received = 0
        var sawEndOfStream = false
        let deadline = now() + timeout
        while received < message.count || (halfClose && !sawEndOfStream) {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if sent < message.count { entry.events |= Int16(POLLOUT) }
            let remaining = deadline - now()
            guard remaining > 0 else {
                throw TestFailure(
                    "exchange timed out: sent \(sent), received \(received) of \(message.count)")
            }
            if poll(&entry, 1, Int32(min(remaining, 1) * 1000)) <= 0 { continue }
            if sent < message.count, entry.revents & Int16(POLLOUT) != 0 {
                let chunk = UnsafeRawBufferPointer(
                    rebasing: message[sent..<min(message.count, sent + 256 * 1024)])
                sent += try Socket.write(fd, from: chunk) ?? 0
                if sent == message.count && halfClose { try Socket.shutdownWrite(fd) }
            }
            if entry.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                guard let count = try Socket.read(fd, into: buffer) else { continue }
                if count == 0 {
                    guard received == message.count else {
                        throw TestFailure("end of stream after \(received) of \(message.count) bytes")
                    }
                    sawEndOfStream = true
                    continue
                }
                guard received + count <= message.count else {
                    throw TestFailure(
                        "received \(received + count) bytes, more than the \(message.count) sent")
                }
                guard memcmp(buffer.baseAddress!, message.baseAddress! + received, count) == 0 else {
                    throw TestFailure(
                        "echoed bytes differ from those sent, within \(received)..<\(received + count)")
                }
                received += count
            }
        }
    }

    /// `exchange` on a fresh connection, closed afterwards.
    static func roundTrip(_ address: SocketAddress, _ text: String = "hello, echo") throws {
        let fd = try connect(address)
        defer { Socket.close(fd) }
        try roundTrip(fd, text)
    }

    /// `exchange` of a short message on an open connection.
    static func roundTrip(_ fd: Int32, _ text: String = "ping") throws {
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBytes { try exchange(fd, UnsafeRawBufferPointer($0)) }
    }

    /// Reads (blocking, with the socket's timeout) until end of stream, reset, or `limit`
    /// bytes; returns how many bytes arrived and whether the stream ended (EOF or reset).
    static func readUntilEnd(_ fd: Int32, limit: Int = Int.max) -> (count: Int, ended: Bool) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var total = 0
        while total < limit {
            do {
                guard let count = try Socket.read(fd, into: buffer) else { return (total, false) }
                if count == 0 { return (total, true) }
                total += count
            } catch {
                return (total, error == .connectionReset)
            }
        }
        return (total, false)
    }

    /// Shrinks the socket's kernel buffers (`SO_RCVBUF`, `SO_SNDBUF`), so that little data
    /// fills them: the server's writes to this client come up short sooner.
    static func shrinkBuffers(_ fd: Int32, to bytes: Int32 = 16 * 1024) {
        var size = bytes
        let length = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, length)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, length)
    }

    /// Writes `pattern` from offset `sent` without ever reading, until `condition` holds
    /// (checked after every write and every 10 ms while the kernel refuses more); returns
    /// the new offset. For driving the server into a state it reports in its statistics.
    /// - Throws: if `condition` does not hold within 20 s, or a write fails.
    static func write(
        _ fd: Int32, _ pattern: Pattern, from sent: Int = 0, until condition: () -> Bool
    ) throws -> Int {
        try Socket.setNonBlocking(fd, true)
        defer { try? Socket.setNonBlocking(fd, false) }
        var sent = sent
        let deadline = now() + 20
        while !condition() {
            guard now() < deadline else { throw TestFailure("condition not reached after \(sent) bytes") }
            if let count = try Socket.write(fd, from: pattern.window(at: sent, count: 60_000)) {
                sent += count
            } else {
                var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&entry, 1, 10)
            }
        }
        return sent
    }

    /// Sends `pattern` from `sent` up to `total` while reading the echo from `received`,
    /// checking every byte, until all of it is back.
    /// - Throws: on a byte that differs, an early end, or after 30 s.
    static func finishStream(
        _ fd: Int32, _ pattern: Pattern, sent: Int, received: Int = 0, total: Int
    ) throws {
        // More sent than `total` would end the stream with the surplus still in flight.
        guard sent <= total else {
            throw TestFailure("\(sent) bytes sent already, more than the \(total) in all")
        }
        try Socket.setNonBlocking(fd, true)
        defer { try? Socket.setNonBlocking(fd, false) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var sent = sent
        var received = received
        let deadline = now() + 30
        while received < total {
            guard now() < deadline else {
                throw TestFailure("stream stalled: sent \(sent), received \(received)")
            }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if sent < total { entry.events |= Int16(POLLOUT) }
            if poll(&entry, 1, 100) <= 0 { continue }
            if sent < total, entry.revents & Int16(POLLOUT) != 0 {
                sent +=
                    try Socket.write(fd, from: pattern.window(at: sent, count: min(60_000, total - sent)))
                    ?? 0
            }
            if entry.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                guard let count = try Socket.read(fd, into: buffer) else { continue }
                guard count > 0 else {
                    throw TestFailure("end of stream after \(received) of \(total) bytes")
                }
                guard received + count <= sent,
                    pattern.matches(UnsafeRawBufferPointer(rebasing: buffer[..<count]), at: received)
                else { throw TestFailure("wrong bytes within \(received)..<\(received + count)") }
                received += count
            }
        }
    }

    /// How a stream ended.
    enum Ending: Equatable {
        case endOfStream
        case reset
    }

    /// Reads (blocking, with the socket's timeout) until end of stream or reset, checking every
    /// byte against `pattern` from offset 0; returns how many arrived and how it ended.
    /// - Throws: on a byte that differs, or any other read failure (a timeout among them).
    static func readPattern(_ fd: Int32, _ pattern: Pattern) throws -> (count: Int, ending: Ending) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var received = 0
        while true {
            let read: Int?
            do {
                read = try Socket.read(fd, into: buffer)
            } catch {
                if error == .connectionReset { return (received, .reset) }
                throw error
            }
            guard let count = read else { throw TestFailure("read timed out after \(received) bytes") }
            if count == 0 { return (received, .endOfStream) }
            guard pattern.matches(UnsafeRawBufferPointer(rebasing: buffer[..<count]), at: received) else {
                throw TestFailure("wrong bytes within \(received)..<\(received + count)")
            }
            received += count
        }
    }

    /// Writes from `source` on a non-blocking socket until the kernel refuses more
    /// (`EAGAIN`) twice, 50 ms apart: the server has stopped reading. Returns bytes written.
    /// `fillUntilBlocked`, again and again until `stopped()` says the server stopped reading
    /// (its statistics, its notice): the client's writes being refused for 100 ms is no proof
    /// of it, since a server slowed down by a loaded machine does the same (seen under
    /// ThreadSanitizer). Returns the bytes sent.
    /// - Throws: if `stopped()` does not hold within 20 s, or a write fails.
    static func fillUntilServerStopsReading(_ fd: Int32, from source: Pattern, stopped: () -> Bool) throws
        -> Int
    {
        var sent = try fillUntilBlocked(fd, from: source)
        let deadline = now() + 20
        while !stopped() {
            guard now() < deadline else { throw TestFailure("the server never said it stopped reading") }
            sent = try fillUntilBlocked(fd, from: source, sent: sent)
        }
        return sent
    }

    static func fillUntilBlocked(_ fd: Int32, from source: Pattern, sent alreadySent: Int = 0) throws -> Int {
        try Socket.setNonBlocking(fd, true)
        defer { try? Socket.setNonBlocking(fd, false) }
        var sent = alreadySent
        var refusals = 0
        let deadline = now() + 20
        while refusals < 2 {
            guard now() < deadline else { throw TestFailure("the server never stopped reading") }
            if let count = try Socket.write(fd, from: source.window(at: sent, count: 60_000)) {
                sent += count
                refusals = 0
            } else {
                refusals += 1
                sleep(seconds: 0.05)
            }
        }
        return sent
    }
}

/// Client sockets a test closes early, each closed exactly once.
///
/// Every test runs in one process, the cases of a parameterised test in parallel, and the
/// kernel hands out the lowest free number: a number closed twice may by then be another
/// test's socket. An explicit close followed by a deferred one on the same number closed
/// the sockets of echo tests running alongside (their clients saw resets under
/// ThreadSanitizer's slowdown). Close early through `close(_:)`; `closeAll()` in a `defer`
/// closes only what is still open.
final class ClientSockets {
    private var open: Set<Int32> = []

    /// A connected client (see `Client.connect`) owned by the bag.
    func connect(_ address: SocketAddress) throws -> Int32 {
        let fd = try Client.connect(address)
        open.insert(fd)
        return fd
    }

    /// Closes `fd` now, if the bag still owns it.
    func close(_ fd: Int32) {
        if open.remove(fd) != nil { Socket.close(fd) }
    }

    /// Closes everything still owned.
    func closeAll() {
        for fd in open { Socket.close(fd) }
        open = []
    }
}

/// A deterministic byte stream: byte `i` is `table[i % period]`, with a prime period so it
/// never lines up with buffer sizes. Windows are contiguous, so checks are one `memcmp`.
final class Pattern: @unchecked Sendable {
    // @unchecked: immutable after init.
    let period = 65_521
    private let table: UnsafeMutableRawBufferPointer

    init(seed: UInt64 = 0x5EED) {
        table = .allocate(byteCount: 2 * period, alignment: 16)
        var random = SplitMix64(seed: seed)
        for index in 0..<period {
            let byte = UInt8(truncatingIfNeeded: random.next())
            table[index] = byte
            table[index + period] = byte
        }
    }

    deinit { table.deallocate() }

    /// The bytes at stream offsets `offset..<offset + count` (`count` at most `period`).
    func window(at offset: Int, count: Int) -> UnsafeRawBufferPointer {
        precondition(count <= period)
        return UnsafeRawBufferPointer(start: table.baseAddress! + offset % period, count: count)
    }

    /// Whether `bytes` are the stream's bytes at `offset`.
    func matches(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        var checked = 0
        while checked < bytes.count {
            let count = min(period, bytes.count - checked)
            let expected = window(at: offset + checked, count: count)
            if memcmp(bytes.baseAddress! + checked, expected.baseAddress!, count) != 0 { return false }
            checked += count
        }
        return true
    }
}

/// A small seeded generator, so failures are reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs `body(index)` on `count` POSIX threads at once and joins them all; returns the
/// errors they threw, as text. (Client code blocks, so it gets real threads, not tasks.)
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
    let failures = Mutex<[String]>([])
    let threads = (0..<count).map { index in
        TestThread {
            do {
                try body(index)
            } catch {
                failures.withLock { $0.append("thread \(index): \(error)") }
            }
        }
    }
    for thread in threads { thread.join() }
    return failures.withLock { $0 }
}

/// A joinable POSIX thread.
struct TestThread: @unchecked Sendable {
    private let handle: pthread_t

    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    init(_ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(
            &handle, nil,
            { context in
                Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        self.handle = handle
    }

    func join() { pthread_join(handle, nil) }
}

/// Whether `::1` can be bound here (containers sometimes lack IPv6).
let ipv6LoopbackAvailable: Bool = {
    guard let (fd, _) = try? Socket.makeListener(address: .ipv6Loopback(port: 0)) else { return false }
    Socket.close(fd)
    return true
}()
