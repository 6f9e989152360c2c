import CSelectors
import Selectors
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The name the kernel shows for the calling thread (`/proc/thread-self/comm`), or `nil`
/// where there is no /proc.
func currentThreadName() -> String? {
    readSmallFile("/proc/thread-self/comm").map { $0.hasSuffix("\n") ? String($0.dropLast()) : $0 }
}

/// The names of every thread of the process now (`/proc/self/task/*/comm`); empty where
/// there is no /proc.
func processThreadNames() -> [String] {
    #if os(Linux)
        return (directoryNames("/proc/self/task") ?? []).compactMap { task in
            readSmallFile("/proc/self/task/\(task)/comm").map {
                $0.hasSuffix("\n") ? String($0.dropLast()) : $0
            }
        }
    #else
        return []
    #endif
}

/// Whether /proc shows threads (Linux); the name checks are skipped elsewhere.
let procShowsThreads: Bool = currentThreadName() != nil

private func readSmallFile(_ path: String) -> String? {
    guard let file = fopen(path, "re") else { return nil }
    defer { fclose(file) }
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
    return String(decoding: buffer[..<count], as: UTF8.self)
}

/// A name no other test uses, short enough for the kernel's 15 bytes.
func uniqueThreadName(_ prefix: String) -> String {
    let number = uniqueNameCounter.wrappingAdd(1, ordering: .relaxed).newValue
    return String("\(prefix)\(number)".prefix(15))
}

private let uniqueNameCounter = Atomic<Int>(0)

/// A gate other threads wait at until the test opens it: a pipe whose read end becomes
/// readable for good once opened. Every wait is bounded (10 s), so a test that forgets to
/// open it fails instead of hanging.
final class Gate: Sendable {
    private let reader: Int32
    private let writer: Int32
    /// How many threads have reached the gate (and are waiting or went through).
    let arrived = SharedCounter()

    init() throws {
        (reader, writer) = try closeOnExecPipe()
    }

    deinit {
        _ = close(reader)
        _ = close(writer)
    }

    /// Blocks the calling thread until the gate opens (at most 10 s).
    func wait() {
        arrived.increment()
        _ = waitReadable(reader, limit: .seconds(10))
    }

    func open() {
        var byte: UInt8 = 1
        _ = write(writer, &byte, 1)
    }

    /// Blocks `loop`'s thread at the gate, and returns once it is there.
    func block(_ loop: EventLoop, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = arrived.value
        try loop.execute { self.wait() }
        eventually(sourceLocation: sourceLocation) { arrived.value > before }
    }
}

/// Runs `body` on `loop`'s thread and waits (at most 10 s) for its result.
func onLoop<Value: Sendable>(
    _ loop: EventLoop, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @escaping @Sendable () -> Value
) throws -> Value? {
    let result = Shared<Value?>(nil)
    let done = SharedFlag()
    try loop.execute {
        let value = body()
        result.withLock { $0 = value }
        done.set()
    }
    guard eventually(sourceLocation: sourceLocation, { done.isSet }) else { return nil }
    return result.value
}

/// An error for `setUp` closures to throw.
struct SetUpFailure: Error, Equatable {
    let code: Int
}
