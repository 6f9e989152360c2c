import CSelectors
import Synchronization
import Testing

// The one file of the async tests that reads the library's internal counts (waiters,
// registrations, queued work): debug builds, which `swift test` makes, allow it.
@testable import Selectors

/// How long an awaited step of an async test may take before the test calls it a hang.
///
/// A bound on hangs, not a speed check, so it is generous: under ThreadSanitizer, with the
/// whole suite running on two cores, a step that crosses threads thousands of times (an actor
/// pinned to one loop, hammered from another) waits for a thread at every crossing. One such
/// test takes 1.2 s alone and 10 s beside 16 busy threads, and ran out of the former 30 s in
/// two of seven full ThreadSanitizer runs (with no report, and passing alone every time).
let awaitLimit: Duration = .seconds(90)

/// An awaited operation that did not finish in time.
struct AsyncTimeout: Error, CustomStringConvertible {
    let what: String
    let limit: Duration
    var description: String { "\(what) did not finish within \(limit)" }
}

/// Awaits `body`, run in a new task (preferring `executor` when given), for at most `limit`.
/// When the time is up the test records an issue, the task is cancelled and left behind
/// (never awaited, so a hang cannot hang the test), and this throws `AsyncTimeout`.
func within<Result: Sendable>(
    _ limit: Duration = awaitLimit, _ what: String = "the awaited work",
    on executor: (any TaskExecutor)? = nil,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    let task = Task(executorPreference: executor) { try await body() }
    return try await finish(task, within: limit, what, sourceLocation: sourceLocation)
}

/// Awaits `task` for at most `limit`; see `within`.
func finish<Result: Sendable, Failure: Error>(
    _ task: Task<Result, Failure>, within limit: Duration = awaitLimit, _ what: String = "the task",
    sourceLocation: SourceLocation = #_sourceLocation
) async throws -> Result {
    guard let outcome = await race(task, limit) else {
        task.cancel()
        Issue.record("\(what) did not finish within \(limit)", sourceLocation: sourceLocation)
        throw AsyncTimeout(what: what, limit: limit)
    }
    return try outcome.get()
}

/// What `task` ended with, or nil if it had not ended after `limit` (then it is left behind,
/// neither cancelled nor awaited). Records nothing.
///
/// The timer and the waiter run on a loop thread of their own (`raceThread`), not in Swift's
/// cooperative pool: the suite's blocking tests can hold the pool's few threads for seconds,
/// and a verdict taken there could come late, or wrong.
func race<Result: Sendable, Failure: Error>(_ task: Task<Result, Failure>, _ limit: Duration) async
    -> Swift.Result<Result, any Error>?
{
    let loop = raceThread.loop
    return await withCheckedContinuation {
        (continuation: CheckedContinuation<Swift.Result<Result, any Error>?, Never>) in
        let once = ResumeOnce(continuation)
        let timer = loop.schedule(after: limit) { once.resume(nil) }
        Task(executorPreference: loop) {
            once.resume(await task.result.mapError { $0 as any Error })
            timer.cancel()
        }
    }
}

/// The loop thread `race` keeps its timers and waiters on, made on first use.
let raceThread: EventLoopThread = {
    do {
        return try EventLoopThread(name: "test-race")
    } catch {
        fatalError("cannot start the tests' timer loop: \(error)")
    }
}()

/// What `task` ended with (its value or its error), awaited for at most `limit`; nil (with an
/// issue recorded) if it did not end in time.
func outcome<Result: Sendable, Failure: Error>(
    of task: Task<Result, Failure>, within limit: Duration = awaitLimit,
    sourceLocation: SourceLocation = #_sourceLocation
) async -> Swift.Result<Result, any Error>? {
    do {
        return .success(try await finish(task, within: limit, sourceLocation: sourceLocation))
    } catch is AsyncTimeout {
        return nil
    } catch {
        return .failure(error)
    }
}

/// A continuation resumed by whichever of several racers comes first.
/// (`Locked`, a pthread mutex, rather than `Mutex`: ThreadSanitizer sees through it.)
private final class ResumeOnce<Value: Sendable>: Sendable {
    private let continuation: Locked<CheckedContinuation<Value, Never>?>
    init(_ continuation: CheckedContinuation<Value, Never>) { self.continuation = Locked(continuation) }
    func resume(_ value: Value) { continuation.withLock { $0.take() }?.resume(returning: value) }
}

/// Checks `condition` every millisecond until it holds, for at most `limit`; records an issue
/// and returns false if it never did.
@discardableResult
func until(
    within limit: Duration = awaitLimit, _ what: String = "condition",
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now.advanced(by: limit)
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("\(what) not met within \(limit)", sourceLocation: sourceLocation)
            return false
        }
        try await Task.sleep(for: .milliseconds(1))
    }
    return true
}

/// Runs `body` with a loop on a thread of its own (`EventLoopThread`) and shuts it down
/// afterwards, also when `body` throws.
func withLoopThread<Result>(
    _ backend: Backend, name: String = "async-test", _ body: (EventLoopThread) async throws -> Result
) async throws -> Result {
    let thread = try EventLoopThread(name: name, backend: backend)
    defer { thread.shutdown() }
    return try await body(thread)
}

/// Runs `body` with a loop on a thread of its own (`withLoopThread`) and a connected
/// Unix-domain pair, both ends non-blocking: `ours` for the loop to watch, `peer` for the test
/// to play the other end. Afterwards closes both ends, then shuts the loop down, also when
/// `body` throws. A test that waited on `ours` unregisters it before it returns.
func withLoopAndSocketPair<Result>(
    _ backend: Backend,
    _ body: (_ thread: EventLoopThread, _ ours: Int32, _ peer: Int32) async throws -> Result
) async throws -> Result {
    try await withLoopThread(backend) { thread in
        let (ours, peer) = try Socket.makePair()
        defer {
            Socket.close(peer)
            Socket.close(ours)
        }
        return try await body(thread, ours, peer)
    }
}

// MARK: Looking inside the loop (through `execute`, not the executor under test)

/// Runs `body` on the loop's thread through `execute` and returns what it returned.
func onLoopThread<Result: Sendable>(
    _ loop: EventLoop, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @escaping @Sendable (IsolatedEventLoop) -> Result
) async throws -> Result {
    try await within(awaitLimit, "a closure on the loop", sourceLocation: sourceLocation) {
        try await withCheckedThrowingContinuation { continuation in
            do {
                try loop.execute { continuation.resume(returning: body(loop.assumeIsolated())) }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}

/// Tasks waiting in `loop.readable`/`writable` now.
func readinessWaiterCount(_ loop: EventLoop) async throws -> Int {
    try await onLoopThread(loop) { $0.eventLoop.readinessWaiterCount }
}

/// Registrations in the loop's selector now (the loop's waker included).
func registrationCount(_ loop: EventLoop) async throws -> Int {
    try await onLoopThread(loop) { $0.eventLoop.selector.count }
}

/// Whether something was submitted to the loop from another thread since it last took its
/// queue (a closure from `execute`, or a job).
func hasQueuedWork(_ loop: EventLoop) -> Bool {
    loop.tasks.mayHaveTasks
}

/// Blocks the loop's thread in a closure until `release()`: what is submitted meanwhile stays
/// queued.
final class LoopBlocker: Sendable {
    private let gate = Locked(false)
    private let entered = Atomic<Bool>(false)

    /// Submits the blocking closure and waits until the loop runs it.
    init(_ loop: EventLoop) async throws {
        try loop.execute { [self] in
            entered.store(true, ordering: .releasing)
            while !gate.withLock({ $0 }) { usleep(200) }
        }
        try await until(within: awaitLimit, "the loop entering the blocker") {
            entered.load(ordering: .acquiring)
        }
    }

    func release() { gate.withLock { $0 = true } }
}

// MARK: Descriptors

/// How many descriptors the process has open (see `procSelfDescriptorCount`).
func openDescriptorTotal() -> Int { procSelfDescriptorCount() }

/// A connected TCP pair over 127.0.0.1, both ends non-blocking: `(client, server)`. The
/// caller owns both.
func tcpPair() throws -> (client: Int32, server: Int32) {
    let (listener, address) = try Socket.makeListener(address: .ipv4Loopback(port: 0), nonBlocking: false)
    defer { Socket.close(listener) }
    let (client, _) = try Socket.connect(to: address)
    guard let server = try Socket.accept(listener) else { throw Errno(rawValue: EAGAIN) }
    try Socket.setNonBlocking(client)
    try Socket.setNonBlocking(server)
    return (client, server)
}

/// `count` bytes of a pattern that never lines up with buffer sizes (period 251, shifted by
/// `seed`). Built by doubling, so megabytes cost a few copies even in a debug build.
func patternBytes(_ count: Int, seed: Int = 0) -> [UInt8] {
    var bytes = (0..<251).map { UInt8(truncatingIfNeeded: ($0 &+ seed) % 251 &* 7 &+ seed) }
    while bytes.count < count { bytes += bytes }
    return Array(bytes[..<count])
}

/// Whether `a` and `b` hold the same bytes (`memcmp`: comparing megabytes element by element
/// is slow in a debug build, and a failed `==` would print them all).
func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.count == b.count
        && a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in a.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 }
        }
}

/// Writes into `fd` (non-blocking) until the kernel takes no more; returns how much it took.
func fillSocketUntilFull(_ fd: Int32) throws -> Int {
    let chunk = [UInt8](repeating: 0x5A, count: 64 * 1024)
    var total = 0
    while true {
        let written = try chunk.withUnsafeBytes { raw throws(Errno) in try Descriptor.write(fd, from: raw) }
        guard let written, written > 0 else { return total }
        total += written
    }
}

/// Reads what `fd` (non-blocking) has now, without waiting; nil at end of stream.
func readAvailableNow(_ fd: Int32) throws -> [UInt8]? {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        guard let count = try buffer.withUnsafeMutableBytes({ try Descriptor.read(fd, into: $0) }) else {
            return bytes
        }
        if count == 0 { return bytes.isEmpty ? nil : bytes }
        bytes += buffer[..<count]
    }
}

/// Runs `body` on a thread of its own, not in Swift's cooperative pool, and returns what it
/// returned: for blocking work, which must neither hold one of the pool's few threads nor
/// wait for one (the suite's blocking tests can hold them all for seconds).
func onOwnThread<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        startDetachedThread { continuation.resume(with: Swift.Result { try body() }) }
    }
}

private final class DetachedThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Starts `body` on a detached POSIX thread (leaked if it never returns).
func startDetachedThread(_ body: @escaping @Sendable () -> Void) {
    let context = Unmanaged.passRetained(DetachedThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread, nil,
        { context in
            Unmanaged<DetachedThreadBody>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
    precondition(result == 0, "pthread_create failed: \(result)")
    pthread_detach(thread)
}

/// A test's side of a connection, on a raw non-blocking fd: each call runs on a thread of its
/// own (`onOwnThread`) and waits with `poll`, so it relies on nothing of the library under
/// test, nor on the cooperative pool.
enum Peer {
    /// Writes all of `bytes`.
    static func write(_ fd: Int32, _ bytes: [UInt8], limit: Duration = awaitLimit) async throws {
        try await onOwnThread { try writeNow(fd, bytes, limit: limit) }
    }

    static func write(_ fd: Int32, _ text: String) async throws { try await write(fd, Array(text.utf8)) }

    /// Reads exactly `count` bytes, `chunk` at a time, pausing `pause` after each read (a slow
    /// reader).
    /// - Throws: at end of stream or a reset before `count` bytes, or after `limit`.
    static func read(
        _ fd: Int32, count: Int, chunk: Int = 64 * 1024, pause: Duration = .zero,
        limit: Duration = awaitLimit
    ) async throws -> [UInt8] {
        try await onOwnThread { try readNow(fd, count: count, chunk: chunk, pause: pause, limit: limit) }
    }

    /// Reads until end of stream or a reset: the bytes, and whether it was a reset.
    static func readToEnd(_ fd: Int32, limit: Duration = awaitLimit) async throws -> (
        bytes: [UInt8], reset: Bool
    ) {
        try await onOwnThread { try readToEndNow(fd, limit: limit) }
    }

    /// Checks that nothing arrives on `fd` for `duration` (and that it has not ended).
    static func expectNothing(
        _ fd: Int32, for duration: Duration, sourceLocation: SourceLocation = #_sourceLocation
    )
        async throws
    {
        try await Task.sleep(for: duration)
        let now = try readAvailableNow(fd)
        #expect(
            now == [], "expected nothing, got \(now.map { "\($0.count) bytes" } ?? "end of stream")",
            sourceLocation: sourceLocation)
    }

    private static func writeNow(_ fd: Int32, _ bytes: [UInt8], limit: Duration) throws {
        let deadline = ContinuousClock.now.advanced(by: limit)
        var sent = 0
        while sent < bytes.count {
            let count = try bytes.withUnsafeBytes { raw in
                try Descriptor.write(fd, from: UnsafeRawBufferPointer(rebasing: raw[sent...]))
            }
            if let count {
                sent += count
            } else {
                try wait(fd, Int32(POLLOUT), until: deadline, "peer write (\(sent) of \(bytes.count) bytes)")
            }
        }
    }

    private static func readNow(_ fd: Int32, count: Int, chunk: Int, pause: Duration, limit: Duration) throws
        -> [UInt8]
    {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        var buffer = [UInt8](repeating: 0, count: chunk)
        let deadline = ContinuousClock.now.advanced(by: limit)
        while bytes.count < count {
            let wanted = min(buffer.count, count - bytes.count)
            let read = try buffer.withUnsafeMutableBytes { raw in
                try Descriptor.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[..<wanted]))
            }
            if let read {
                guard read > 0 else { throw PeerEnded(after: bytes.count, wanted: count) }
                bytes += buffer[..<read]
                if pause > .zero { sleep(for: pause) }
            } else {
                try wait(fd, Int32(POLLIN), until: deadline, "peer read (\(bytes.count) of \(count) bytes)")
            }
        }
        return bytes
    }

    private static func readToEndNow(_ fd: Int32, limit: Duration) throws -> (bytes: [UInt8], reset: Bool) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let deadline = ContinuousClock.now.advanced(by: limit)
        while true {
            let read: Int?
            do {
                read = try buffer.withUnsafeMutableBytes { try Descriptor.read(fd, into: $0) }
            } catch let error as Errno where error == .connectionReset {
                return (bytes, true)
            }
            if let read {
                if read == 0 { return (bytes, false) }
                bytes += buffer[..<read]
            } else {
                try wait(
                    fd, Int32(POLLIN), until: deadline, "peer read to the end (\(bytes.count) bytes came)")
            }
        }
    }

    /// Waits with `poll` for `events` on `fd`, at most until `deadline`.
    private static func wait(
        _ fd: Int32, _ events: Int32, until deadline: ContinuousClock.Instant, _ what: String
    )
        throws
    {
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { throw AsyncTimeout(what: what, limit: left) }
        let milliseconds = Int32(clamping: left.components.seconds * 1_000 + 1)
        var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
        _ = poll(&entry, 1, min(milliseconds, 1_000))
    }
}

/// The peer's stream ended before the bytes a test waited for.
struct PeerEnded: Error, CustomStringConvertible {
    let after: Int
    let wanted: Int
    var description: String { "end of stream after \(after) of \(wanted) bytes" }
}

/// Whether `error` is a `SelectorError` with `reason`.
func isSelectorError(_ error: any Error, _ reason: SelectorError.Reason) -> Bool {
    (error as? SelectorError)?.reason == reason
}

/// Whether `result` failed with a `SelectorError` for `reason`.
func failed<Value>(_ result: Swift.Result<Value, any Error>?, with reason: SelectorError.Reason) -> Bool {
    guard case .failure(let error) = result else { return false }
    return isSelectorError(error, reason)
}

/// Whether `result` failed with `CancellationError`.
func wasCancelled<Value>(_ result: Swift.Result<Value, any Error>?) -> Bool {
    guard case .failure(let error) = result else { return false }
    return error is CancellationError
}
