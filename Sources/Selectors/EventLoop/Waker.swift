/// Wakes a loop blocked in `select` from another thread: an fd that becomes readable.
///
/// Registered in the loop's selector like any other fd, so it works with every backend.
/// Linux uses an `eventfd` (one fd, a counter that never fills); other systems a pipe.
protocol Waker: AnyObject, Sendable {
    /// The fd to register for `.read`.
    var readFD: Int32 { get }
    /// Makes `readFD` readable. Safe from any thread; never blocks.
    func wake()
    /// Consumes pending wake-ups, so `readFD` stops being readable.
    func drain()
    /// Closes the fds. Called once, after the loop stopped using them.
    func close()
}
