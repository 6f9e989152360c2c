import CSelectors
import Selectors
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A thread's identity that closures marked `@Sendable` may capture and compare.
///
/// `pthread_t` is an integer on Linux but a pointer elsewhere; only equality is ever asked of
/// it, and `pthread_equal` is the portable way to answer that.
struct ThreadIdentity: @unchecked Sendable, CustomStringConvertible {
    let thread: pthread_t

    static var current: ThreadIdentity { ThreadIdentity(thread: pthread_self()) }

    func isSame(as other: ThreadIdentity) -> Bool { pthread_equal(thread, other.thread) != 0 }

    var description: String { "\(thread)" }
}

/// An integer shared with closures that run on other threads (tasks, signal senders).
final class SharedCounter: Sendable {
    private let storage = Atomic<Int>(0)

    var value: Int { storage.load(ordering: .sequentiallyConsistent) }

    /// Adds one and returns the new value.
    @discardableResult
    func increment() -> Int { storage.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue }
}

/// A flag shared with closures that run on other threads.
final class SharedFlag: Sendable {
    private let storage = Atomic<Bool>(false)

    var isSet: Bool { storage.load(ordering: .sequentiallyConsistent) }

    func set() { storage.store(true, ordering: .sequentiallyConsistent) }
}

/// A value shared with closures that run on other threads, behind a lock.
///
/// A pthread mutex (`PosixLock`), not `Synchronization.Mutex`: ThreadSanitizer does not see
/// the futex inside `Mutex` on Linux, and reports the guarded accesses of two threads that
/// contend for it as a race (see `Locked` in the library).
final class Shared<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `storage` is only touched while `lock` is held.
    private let lock = PosixLock()
    private var storage: Value

    init(_ value: Value) { storage = value }

    var value: Value { lock.withLock { storage } }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { lock.withLock { body(&storage) } }
}

/// Polls `condition` every millisecond until it holds or `limit` passes; returns whether it
/// held. For effects that land on another thread or in a signal handler at a moment the
/// test cannot wait on directly.
@discardableResult
func eventually(
    within limit: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () -> Bool
) -> Bool {
    guard holds(within: limit, condition) else {
        Issue.record("condition not met within \(limit)", sourceLocation: sourceLocation)
        return false
    }
    return true
}

/// `eventually` without recording an issue: for callers that report a failure themselves,
/// or wait on a thread where no test runs.
func holds(within limit: Duration, _ condition: () -> Bool) -> Bool {
    let deadline = LoopInstant.now.advanced(by: limit)
    while !condition() {
        if LoopInstant.now >= deadline { return false }
        sleep(for: .milliseconds(1))
    }
    return true
}

/// Runs `loop.run()` with a watchdog, so a broken `stop()` or a lost wake-up fails the test
/// instead of hanging the whole test process.
///
/// The watchdog does not call `stop()`: `stop()` itself is under test, and a loop that misses
/// its wake-up would miss the watchdog's too. It writes to a pipe the loop watches instead,
/// and that handler stops the loop; plain I/O readiness is the path least likely to be the
/// one that broke. An expired watchdog records an issue at the caller's line.
///
/// With `progress`, `limit` is the longest time without progress (the value changing) rather
/// than in all: a long stress run is slow under ThreadSanitizer or on a loaded machine, but a
/// stuck one stops changing its count.
func runBounded(
    _ loop: IsolatedEventLoop, limit: Duration = .seconds(10), progress: (@Sendable () -> Int)? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let (reader, writer) = try closeOnExecPipe()
    let (quitReader, quitWriter) = try closeOnExecPipe()
    defer {
        for fd in [reader, writer, quitReader, quitWriter] { _ = close(fd) }
    }
    try loop.register(reader, events: .read) { _, _ in loop.stop() }
    // The handler captures the loop; unregistering breaks that cycle. A test whose handler
    // closed the loop has nothing left to unregister.
    defer { _ = try? loop.unregister(reader) }
    let expired = SharedFlag()
    try withThreads(1) { _ in
        var seen = progress?()
        var deadline = LoopInstant.now.advanced(by: limit)
        while true {
            let left = LoopInstant.now.duration(to: deadline)
            // Wakes at least every second to look at the progress.
            if left > .zero && waitReadable(quitReader, limit: min(left, .seconds(1))) { return }
            let current = progress?()
            if current != seen {
                seen = current
                deadline = LoopInstant.now.advanced(by: limit)
            } else if LoopInstant.now >= deadline {
                expired.set()
                var byte: UInt8 = 1
                _ = write(writer, &byte, 1)
                return
            }
        }
    } whileRunning: {
        defer {
            var byte: UInt8 = 1
            _ = write(quitWriter, &byte, 1)
        }
        try loop.run()
    }
    if expired.isSet {
        let what = progress == nil ? "within \(limit)" : "after \(limit) without progress"
        Issue.record("run() did not return \(what); the watchdog stopped it", sourceLocation: sourceLocation)
    }
}

/// Runs one wait that does not block, so that fds the loop's handlers closed are released by
/// the kernel. On uring a registered fd's poll request holds its file open, and unregistering
/// only queues the request's cancellation for the next wait (README, uring): until that wait,
/// the peer of a closed socket sees no end of stream. Other backends release it at `close`.
func settleClosedDescriptors(_ loop: IsolatedEventLoop) throws {
    try loop.runOnce(timeout: .zero)
}

/// Calls `loop.runOnce(timeout: step)` until `done()` holds, at most until `limit` has passed
/// or `maximumIterations` iterations ran. Returns whether `done()` came true; if not, records
/// an issue at the caller's line.
///
/// The iteration cap bounds loops whose iterations return at once (a zero-delay timer keeps
/// re-arming); the time limit bounds loops that wait.
@discardableResult
func runOnceUntil(
    _ loop: IsolatedEventLoop, limit: Duration = .seconds(10), step: Duration = .milliseconds(10),
    maximumIterations: Int = 1_000_000, sourceLocation: SourceLocation = #_sourceLocation,
    _ done: () -> Bool
) throws -> Bool {
    let deadline = LoopInstant.now.advanced(by: limit)
    var iterations = 0
    while !done() {
        guard iterations < maximumIterations, LoopInstant.now < deadline else {
            Issue.record(
                "condition not met after \(iterations) iterations or \(limit)", sourceLocation: sourceLocation
            )
            return false
        }
        try loop.runOnce(timeout: step)
        iterations += 1
    }
    return true
}

/// A pipe with both ends close-on-exec, so tests that spawn processes do not hand them on.
/// Blocking, unlike `OpenDescriptors.pipe()`: callers wait on it with `poll` and a timeout.
func closeOnExecPipe() throws(Errno) -> (read: Int32, write: Int32) {
    var ends: [Int32] = [-1, -1]
    guard pipe(&ends) == 0 else { throw Errno(rawValue: cselectors_errno()) }
    for fd in ends { _ = cselectors_fcntl_set(fd, F_SETFD, FD_CLOEXEC) }
    return (ends[0], ends[1])
}

/// Waits up to `limit` for `fd` to become readable, retrying after signals. Returns whether
/// it did; bounds every helper thread that waits for the loop, so none can outlive a test
/// whose loop was stopped by its watchdog.
func waitReadable(_ fd: Int32, limit: Duration) -> Bool {
    let deadline = LoopInstant.now.advanced(by: limit)
    while true {
        let left = LoopInstant.now.duration(to: deadline)
        guard left > .zero else { return false }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: left.components.seconds * 1_000 + 1)
        let ready = poll(&entry, 1, milliseconds)
        if ready > 0 { return true }
        if ready < 0 && cselectors_errno() != EINTR { return false }
    }
}

/// Runs `body(index)` on `count` new POSIX threads while `work` runs on the calling thread,
/// then joins them all (also when `work` throws).
///
/// Real threads rather than tasks: the tests need submitters that are not the loop thread
/// and that keep running while the loop thread blocks in `run()`.
func withThreads<Result>(
    _ count: Int, _ body: @escaping @Sendable (Int) -> Void, whileRunning work: () throws -> Result
) rethrows -> Result {
    var threads: [pthread_t] = []
    defer { for thread in threads { pthread_join(thread, nil) } }
    for index in 0..<count {
        let context = Unmanaged.passRetained(LoopTestThreadBody { body(index) }).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<LoopTestThreadBody>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        threads.append(thread)
    }
    return try work()
}

private final class LoopTestThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// The names in directory `path` (without `.` and `..`), or nil if it cannot be opened.
/// While it lists, the directory has a descriptor of its own open.
///
/// Each name is read where it lies in `readdir`'s record: a record is only as long as its
/// name, so copying the whole `d_name` array out (256 bytes) read past the end of the last
/// record in the buffer (AddressSanitizer caught it).
func directoryNames(_ path: String) -> [String]? {
    guard let directory = opendir(path) else { return nil }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let field = UnsafeRawPointer(entry) + MemoryLayout<dirent>.offset(of: \.d_name)!
        let name = String(cString: field.assumingMemoryBound(to: CChar.self))
        if name != ".", name != ".." { names.append(name) }
    }
    return names
}

/// How many descriptors the process has open, from the entries of /proc/self/fd (not
/// counting the one the listing itself opens). Other tests run alongside, so callers compare
/// with a tolerance.
func procSelfDescriptorCount() -> Int {
    #if os(Linux)
        guard let names = directoryNames("/proc/self/fd") else { return openDescriptorCount() }
        // The directory stream's own descriptor is listed too.
        return names.count - 1
    #else
        return openDescriptorCount()
    #endif
}
