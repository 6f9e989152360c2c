import CSelectors

/// Runs `background` on a new thread while `body` runs on the calling thread, then joins the
/// thread before returning (also when `body` throws), so no test leaves a thread behind.
///
/// A plain POSIX thread, not a task: the tests need a real second thread that can sleep,
/// write to a descriptor, or `pthread_kill` the calling thread while it blocks in `select`.
func withBackgroundThread<Result>(
    _ background: @escaping @Sendable () -> Void, _ body: () throws -> Result
) rethrows -> Result {
    let thread = startThread(background)
    defer { pthread_join(thread, nil) }
    return try body()
}

/// The calling thread, as `pthread_kill` names it.
func currentThread() -> pthread_t {
    pthread_self()
}

private final class ThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

private func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread, nil,
        { context in
            Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
    precondition(result == 0, "pthread_create failed: \(result)")
    return thread
}

/// A lock on a `pthread_mutex_t` that stays at one address, as POSIX requires.
final class PosixLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` holding the lock.
    func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
