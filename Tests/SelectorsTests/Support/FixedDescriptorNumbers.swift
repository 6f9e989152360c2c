import CSelectors
import Selectors
import Testing

/// Descriptor numbers that a test can rely on staying closed while it uses them.
///
/// Some behaviours need a number that is closed (register a closed fd and expect `EBADF`)
/// or that is closed behind the selector's back and must not be reopened before the next
/// call. Tests run in parallel and the kernel hands out the lowest free number, so a number
/// freed by one test can be taken by another's `socketpair` a microsecond later. So the
/// numbers used are the highest the process can have (below `FD_SETSIZE` where the select
/// backend stops there), which only the `DescriptorHeavyTests` could reach, on a machine with
/// a low limit: each of those runs holding the reservation (the suite's
/// `.reservingDescriptorNumbers` trait), and so does every user of the reserved numbers.
///
/// Found by tracing every `close` that failed with `EBADF` during a test run (.ci/closewatch.c):
/// the numbers were those just below `FD_SETSIZE`, which the heavy tests took without holding
/// the reservation, so a `withClosedNumber` user could `dup2` onto, and then close, a socket a
/// heavy test owned, and that test then closed another test's descriptor in turn (once a
/// selector's own `eventfd`). With the reservation held, a thousand sockets of the echo tests
/// running alongside still took every number below `FD_SETSIZE` at times.
enum FixedDescriptorNumbers {
    private static let reservation = Reservation()

    /// Whether the current task holds the reservation.
    @TaskLocal private static var isHeldHere = false

    /// The highest number a descriptor can have here: below the soft `RLIMIT_NOFILE`, and
    /// below `FD_SETSIZE` where the select backend stops there.
    static let topNumber: Int32 = {
        let top = descriptorLimit - 1
        guard let selectLimit = Backend.select.capabilities.descriptorLimit else { return top }
        return min(top, selectLimit - 1)
    }()

    /// The lowest number `adopt` treats as reserved (see `checkNotReserved`).
    static let reservedFloor = topNumber - 63

    /// Whether the heavy tests, which open up to about 10,000 descriptors while other tests
    /// run alongside, could reach the reserved numbers: only where the open-file limit is
    /// low. Where they cannot (a limit of 20,000, say), they do not take the reservation, and
    /// its users never wait behind them; `checkNotReserved` still catches one that does.
    static let heavyTestsMayReachReservedNumbers = reservedFloor < 16_384

    /// Runs `body` with a number (at most `topNumber`) that no descriptor has and that nothing
    /// else opens until `body` returns. `body` may `dup2` onto it; whatever it leaves open
    /// there is closed afterwards. Open the test's `withDescriptors` scope *inside* `body`, so
    /// the bag's closing happens while the number is still reserved.
    /// - Throws: `EMFILE` if every number up to `topNumber` is taken.
    static func withClosedNumber<Result>(_ body: (Int32) throws -> Result) async throws -> Result {
        try await exclusively {
            var number = topNumber
            while number >= 0 && isOpen(number) { number -= 1 }
            guard number >= 0 else { throw Errno(rawValue: EMFILE) }
            // Checked first: CI fails a run with any close that fails (.ci/closewatch.c).
            defer { if isOpen(number) { _ = close(number) } }
            return try body(number)
        }
    }

    /// Runs `body` holding the reservation: for code that holds enough descriptors to reach
    /// the reserved range. A holder may call it again.
    ///
    /// Waiting for the reservation suspends rather than blocks: a heavy test holds it for
    /// seconds, and with the pool's threads (two, on two cores) blocked by waiters, the heavy
    /// test itself would never get one to finish on.
    static func exclusively<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        if isHeldHere { return try await body() }
        await reservation.acquire()
        defer { reservation.release() }
        return try await $isHeldHere.withValue(true, operation: body)
    }

    /// Runs `body` in an exit test's child process, whose descriptor numbers are its own: it
    /// may take any of them without the reservation.
    static func inChildProcess(_ body: () -> Void) {
        $isHeldHere.withValue(true, operation: body)
    }

    /// Records an issue when a test that does not hold the reservation takes a reserved
    /// number: it could be the one a `withClosedNumber` user is closing behind its back.
    static func checkNotReserved(_ fd: Int32) {
        guard fd >= reservedFloor && fd <= topNumber && !isHeldHere else { return }
        Issue.record(
            "fd \(fd) is one of the reserved numbers; a test that opens this many descriptors joins DescriptorHeavyTests"
        )
    }
}

/// A lock taken in turn (first come, first served), whose waiters suspend: the heavy tests
/// come one after another, and must not keep the others waiting for all of them.
private final class Reservation: Sendable {
    private struct Turns {
        var next: UInt64 = 0
        var serving: UInt64 = 0
    }
    // `Locked` rather than `Mutex`: ThreadSanitizer does not see `Mutex`'s futex as
    // synchronization, and reported its guarded accesses as races.
    private let turns = Locked(Turns())

    func acquire() async {
        let ticket = turns.withLock { turns in
            defer { turns.next += 1 }
            return turns.next
        }
        // Not cancellable: a turn taken must be served, or every later one waits forever.
        // (A cancelled task's sleep returns at once; `usleep` then keeps this from spinning.)
        while turns.withLock({ $0.serving }) != ticket {
            if (try? await Task.sleep(for: .milliseconds(10))) == nil { usleep(10_000) }
        }
    }

    func release() {
        turns.withLock { $0.serving += 1 }
    }
}

/// Runs each test of a suite holding `FixedDescriptorNumbers`' reservation.
struct ReservingDescriptorNumbers: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil, FixedDescriptorNumbers.heavyTestsMayReachReservedNumbers else {
            return try await function()
        }
        try await FixedDescriptorNumbers.exclusively { try await function() }
    }
}

extension Trait where Self == ReservingDescriptorNumbers {
    /// See `ReservingDescriptorNumbers`.
    static var reservingDescriptorNumbers: Self { Self() }
}
