import CSelectors
import Selectors
import Synchronization
import Testing

/// Bad input never crashes, never hangs and never loses data: every misuse of the public API
/// gets a thrown error naming the operation, the fd and the reason (or, where the call cannot
/// throw, does nothing harmful). An audit of the entry points with absurd arguments: negative,
/// `Int32.min`/`Int32.max` and out-of-limit fds, closed fds and regular files, calls after
/// `close()`, invalid `Events` bits, absurd durations, zero and huge sizes, dead handles and
/// re-entrant calls from handlers. Everything on the real kernel (socket pairs, pipes).
///
/// The suites in this folder; these are the absurd values they share.
enum Misuse {
    /// fds no process here can have: beyond every descriptor table, and the extremes.
    static let impossibleDescriptors: [Int32] = [Int32.max, Int32.max - 1, 1 << 24, 1_000_000]

    /// `Events` that are not a valid interest: empty, unknown bits, known and unknown mixed.
    static let invalidEvents: [Events] = [
        Events(rawValue: 0), Events(rawValue: 1 << 2), Events(rawValue: 0x80), Events(rawValue: 0xFF),
        Events(rawValue: Events.read.rawValue | 1 << 5),
    ]

    /// Durations at and beyond the edges: what `select`, `runOnce`, timers and options meet.
    static let absurdDurations: [Duration] = [
        .zero, .nanoseconds(-1), .nanoseconds(1), .seconds(-1), .seconds(Int64.max), .seconds(Int64.min),
        .seconds(Int64.max) * 10, .seconds(Int64.min) * 10,
        Duration(secondsComponent: 0, attosecondsComponent: 1),
        Duration(secondsComponent: -1, attosecondsComponent: 999_999_999_999_999_999),
    ]

    /// What a connection queues at most (`Connection.write`'s documentation).
    static let queueLimit = Int(UInt32.max) - 16
}

/// Checks that `error` is a `SelectorError` naming `operation` and `fd`, with an
/// `invalidArgument` reason whose text contains `mention`.
func expectInvalidArgument(
    _ error: (any Error)?, _ operation: SelectorError.Operation, fd: Int32?, mentioning mention: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error = error as? SelectorError else {
        Issue.record(
            "expected a SelectorError, got \(String(describing: error))", sourceLocation: sourceLocation)
        return
    }
    #expect(error.operation == operation && error.fd == fd, "\(error)", sourceLocation: sourceLocation)
    guard case .invalidArgument(let text) = error.reason else {
        Issue.record("expected invalidArgument, got \(error)", sourceLocation: sourceLocation)
        return
    }
    #expect(text.contains(mention), "\(error)", sourceLocation: sourceLocation)
    #expect(error.description.hasPrefix(operation.rawValue + "("), "\(error)", sourceLocation: sourceLocation)
}

/// What `body` threw, or nil.
func asyncError(_ body: () async throws -> Void) async -> (any Error)? {
    do {
        try await body()
        return nil
    } catch {
        return error
    }
}

/// `count` bytes of untouched private zero pages, read-only (`MAP_NORESERVE`): address space
/// only, so a call that refuses them before reading any costs no memory. Unmap with `unmap`.
func untouchedPages(_ count: Int) throws -> UnsafeRawBufferPointer {
    let start = mmap(nil, count, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    guard let start, Int(bitPattern: start) != -1 else { throw Errno(rawValue: cselectors_errno()) }
    return UnsafeRawBufferPointer(start: start, count: count)
}

func unmap(_ pages: UnsafeRawBufferPointer) {
    munmap(UnsafeMutableRawPointer(mutating: pages.baseAddress), pages.count)
}

/// Checks that `body` throws a `SelectorError` naming `operation` and `fd`, whatever the reason.
func expectFailure<Value>(
    _ operation: SelectorError.Operation, fd: Int32?, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Value
) {
    guard let error = selectorError(sourceLocation: sourceLocation, body) else { return }
    #expect(error.operation == operation && error.fd == fd, "\(error)", sourceLocation: sourceLocation)
}
