import CSelectors
import Synchronization

/// A signal with a do-nothing handler installed *without* `SA_RESTART`, so sending it to a
/// thread blocked in `epoll_wait`, `poll` or `select` makes that call fail with `EINTR`.
///
/// `SIGWINCH` rather than `SIGUSR1`: the disposition is process-wide and tests run in
/// parallel, so a signal that event-loop signal tests are likely to use (USR1, USR2, HUP)
/// would have its handler swapped under them. `SIGWINCH` is ignored by default and nothing
/// else in the test process uses it.
enum InterruptingSignal {
    static let number = SIGWINCH

    /// How many times the handler has run, in the whole process.
    static var deliveries: Int { interruptDeliveries.load(ordering: .sequentiallyConsistent) }

    /// Installs the handler (once per process; later calls do nothing).
    static func install() { _ = installation }

    /// Runs `body` with the signal unblocked on the calling thread, then restores the mask.
    ///
    /// Swift concurrency runs tests on dispatch worker threads, which block every signal, so
    /// without this a signal sent to the test's thread would only be left pending. Join any
    /// thread that sends the signal inside `body`, so it cannot arrive after the restore.
    static func withUnblocked<Result>(_ body: () throws -> Result) rethrows -> Result {
        var unblock = sigset_t()
        var previous = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, number)
        pthread_sigmask(SIG_UNBLOCK, &unblock, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }

    /// Sends the signal to `thread` only (`pthread_kill`).
    static func send(to thread: pthread_t) {
        _ = pthread_kill(thread, number)
    }
}

private let interruptDeliveries = Atomic<Int>(0)

private let installation: Void = {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in
        interruptDeliveries.add(1, ordering: .sequentiallyConsistent)
    }
    sigemptyset(&action.sa_mask)
    action.sa_flags = 0
    precondition(sigaction(InterruptingSignal.number, &action, nil) == 0, "sigaction failed")
}()
