import CSelectors
import Selectors

/// Runs `body` while a forked child process holds `fd` open, so the open file outlives the
/// parent's `close(fd)`: the other way, besides `dup`, that epoll ends up watching a file under
/// a number the process no longer has.
///
/// The child runs only async-signal-safe calls, since it is forked from a multithreaded
/// process: it closes every other descriptor it inherited at once (so no other test's socket
/// or pipe stays open in it), waits at most ten seconds for the parent to let go, and `_exit`s. The parent lets go
/// and reaps it when `body` returns or throws.
func withForkedChildHolding<Result>(_ fd: Int32, _ body: () throws -> Result) throws -> Result {
    let (release, releaseWriter) = try closeOnExecPipe()
    // The child holds every descriptor of the process from the fork until its loop closes
    // them, delaying the effect of other tests' closes; so the loop stops a margin above the
    // highest descriptor open now instead of at the limit, which keeps that window to a few
    // microseconds. Numbers are handed out lowest first, so any opened meanwhile fall inside
    // the margin.
    var limit = descriptorLimit - 1
    while limit > 0 && !isOpen(limit) { limit -= 1 }
    limit = min(limit + 256, descriptorLimit)
    let child = fork()
    if child == 0 {
        var number: Int32 = 3
        while number < limit {
            if number != fd && number != release { _ = close(number) }
            number += 1
        }
        var entry = pollfd(fd: release, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, 10_000)
        _exit(0)
    }
    let forkError = Errno(rawValue: cselectors_errno())
    _ = close(release)
    guard child > 0 else {
        _ = close(releaseWriter)
        throw forkError
    }
    defer {
        _ = close(releaseWriter)
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && cselectors_errno() == EINTR {}
    }
    return try body()
}
