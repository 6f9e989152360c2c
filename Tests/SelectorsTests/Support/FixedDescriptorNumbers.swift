import CSelectors
import Selectors

/// Descriptor numbers that a test can rely on staying closed while it uses them.
///
/// Some behaviours need a number that is closed (register a closed fd and expect `EBADF`)
/// or that is closed behind the selector's back and must not be reopened before the next
/// call. Tests run in parallel and the kernel hands out the lowest free number, so a number
/// freed by one test can be taken by another's `socketpair` a microsecond later. Numbers just
/// below `FD_SETSIZE` (so the select backend can use them too) are only reached when a
/// process holds about a thousand descriptors, which only the `DescriptorHeavyTests` do:
/// those run under `exclusively`, and users of the reserved numbers under the same lock.
enum FixedDescriptorNumbers {
    private static let lock = PosixLock()

    /// Runs `body` with a number below `FD_SETSIZE` that no descriptor has and that nothing
    /// else opens until `body` returns. `body` may `dup2` onto it; whatever it leaves open
    /// there is closed afterwards. Open the test's `withDescriptors` scope *inside* `body`, so
    /// the bag's closing happens while the number is still reserved.
    /// - Throws: `EMFILE` if every number below `FD_SETSIZE` is taken (a leak elsewhere).
    static func withClosedNumber<Result>(_ body: (Int32) throws -> Result) throws -> Result {
        try lock.withLock {
            var number = cselectors_fd_setsize() - 1
            while number >= 0 && isOpen(number) { number -= 1 }
            guard number >= 0 else { throw Errno(rawValue: EMFILE) }
            defer { _ = close(number) }
            return try body(number)
        }
    }

    /// Runs `body` while no `withClosedNumber` body runs: for tests that hold enough
    /// descriptors to reach the reserved range.
    static func exclusively<Result>(_ body: () throws -> Result) rethrows -> Result {
        try lock.withLock(body)
    }
}
