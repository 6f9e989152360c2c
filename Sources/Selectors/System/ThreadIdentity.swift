internal import CSelectors
import Synchronization

/// Numbers threads so that a number is never reused within the process: what tells the loop's
/// thread apart (`EventLoop.isOnLoopThread`). A `pthread_t` cannot: glibc hands a joined
/// thread's descriptor, and so its `pthread_t`, to the next thread created, which would then
/// pass for the loop thread of a loop whose thread had ended.
///
/// Kept in Swift globals (a `pthread_key_t` and a counter), not in C statics: a header-only C
/// module gives every Swift module that inlines the function its own copy of a static, and
/// the numbers of two copies would not compare (cross-module optimisation does inline it).
enum ThreadIdentity {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()
    private static let next = Atomic<UInt>(1)

    /// The calling thread's number (a thread-specific value, given on first use).
    static var current: UInt64 {
        if let value = pthread_getspecific(key) { return UInt64(UInt(bitPattern: value)) }
        let identity = next.wrappingAdd(1, ordering: .relaxed).oldValue
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: identity))
        return UInt64(identity)
    }
}
