import CSelectors
import Synchronization
import Testing

/// Bounds a test that blocks (for example in `select(timeout: nil)` or an event loop's
/// `run()`): if `body` is still running after `limit`, a watchdog thread calls `onExpiry`,
/// which must make `body` return (write to a descriptor it waits on, stop the loop), and the
/// test records an issue. Returns `body`'s result.
///
/// The watchdog sleeps in `poll` on a private pipe, so finishing early wakes it at once.
func withDeadline<Result>(
    _ limit: Duration,
    onExpiry: @escaping @Sendable () -> Void,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Result
) rethrows -> Result {
    var fds: [Int32] = [-1, -1]
    precondition(pipe(&fds) == 0, "pipe failed")
    let (wakeRead, wakeWrite) = (fds[0], fds[1])
    defer {
        _ = close(wakeRead)
        _ = close(wakeWrite)
    }
    let expired = ExpiryFlag()
    let milliseconds = Int32(
        clamping: limit.components.seconds * 1_000 + limit.components.attoseconds / 1_000_000_000_000_000)
    return try withBackgroundThread({
        var entry = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        var ready: Int32
        repeat { ready = poll(&entry, 1, milliseconds) } while ready < 0 && cselectors_errno() == EINTR
        if ready == 0 {
            expired.value.store(true, ordering: .sequentiallyConsistent)
            onExpiry()
        }
    }) {
        defer {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
            if expired.value.load(ordering: .sequentiallyConsistent) {
                Issue.record("did not finish within \(limit)", sourceLocation: sourceLocation)
            }
        }
        return try body()
    }
}

private final class ExpiryFlag: Sendable {
    let value = Atomic<Bool>(false)
}
