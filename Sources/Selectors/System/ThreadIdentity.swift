internal import CSelectors

/// Numbers threads so that a number is never reused within the process: what tells the loop's
/// thread apart (`EventLoop.isOnLoopThread`). A `pthread_t` cannot: glibc hands a joined
/// thread's descriptor, and so its `pthread_t`, to the next thread created, which would then
/// pass for the loop thread of a loop whose thread had ended.
enum ThreadIdentity {
    /// The calling thread's number (a thread-local, set on first use).
    @inline(__always)
    static var current: UInt64 { cselectors_thread_identity() }
}
