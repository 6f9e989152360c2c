internal import CSelectors

/// A value guarded by a `pthread_mutex_t`.
///
/// Why not `Synchronization.Mutex`: on Linux (Swift 6.3) ThreadSanitizer does not see the
/// futex-based lock inside it, so it reports every access it guards as a race, which would
/// bury real reports. TSan understands pthread mutexes. The cost is the same uncontended.
///
/// `package`: the echo service's cross-thread state uses it too, rather than a copy.
package final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched between pthread_mutex_lock and unlock.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// Guards `value` with a new mutex (`pthread_mutex_init`).
    package init(_ value: Value) {
        self.value = value
        // Heap-allocated: a pthread mutex must not move, and a Swift stored property may.
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value (`pthread_mutex_lock`, then unlock).
    @inline(__always)
    package func withLock<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
