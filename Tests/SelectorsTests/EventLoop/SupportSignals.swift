import CSelectors
import Synchronization

/// The test process's own handlers for `SIGUSR1` and `SIGUSR2`: they only count.
///
/// Installed before any loop watches those signals, so the disposition an event loop saves
/// and restores is this one and never the default, which would terminate the test process
/// if a late or stray delivery arrived after a loop let go of the signal. The counts also
/// show whether the disposition really came back.
enum TestSignalHandlers {
    /// Installs the counting handlers (once per process; later calls do nothing).
    static func install() { _ = installation }

    /// How many times the counting handler for `signal` has run in the whole process.
    static func deliveries(of signal: Int32) -> Int {
        signal == SIGUSR1
            ? usr1Deliveries.load(ordering: .sequentiallyConsistent)
            : usr2Deliveries.load(ordering: .sequentiallyConsistent)
    }
}

private let usr1Deliveries = Atomic<Int>(0)
private let usr2Deliveries = Atomic<Int>(0)

private let installation: Void = {
    // Touch both globals first: a signal handler must not be the one to run their lazy
    // initialisation.
    _ = usr1Deliveries.load(ordering: .relaxed)
    _ = usr2Deliveries.load(ordering: .relaxed)
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { signal in
        if signal == SIGUSR1 {
            usr1Deliveries.add(1, ordering: .sequentiallyConsistent)
        } else {
            usr2Deliveries.add(1, ordering: .sequentiallyConsistent)
        }
    }
    sigemptyset(&action.sa_mask)
    action.sa_flags = SA_RESTART
    for signal in [SIGUSR1, SIGUSR2] {
        precondition(sigaction(signal, &action, nil) == 0, "sigaction failed")
    }
}()

/// Runs `body` with `signals` unblocked (`unblocking: true`) or blocked on the calling thread,
/// then restores the thread's mask.
///
/// Tests run on worker threads that block asynchronous signals, so a signal sent to the
/// test's thread (`raise`, `pthread_kill`) would otherwise just stay pending. Join every
/// thread that sends to this one inside `body`, so nothing arrives after the restore.
func withSignals<Result>(
    _ signals: [Int32], unblocking: Bool, _ body: () throws -> Result
) rethrows -> Result {
    var set = sigset_t()
    var previous = sigset_t()
    sigemptyset(&set)
    for signal in signals { sigaddset(&set, signal) }
    pthread_sigmask(unblocking ? SIG_UNBLOCK : SIG_BLOCK, &set, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    return try body()
}
