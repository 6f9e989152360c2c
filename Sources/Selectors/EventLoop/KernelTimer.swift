/// A timer the kernel keeps: an fd that becomes readable once the monotonic clock reaches the
/// deadline it was armed with. With one, a running loop waits without a timeout and reads the
/// clock only when the fd says a timer is due, so a loop with timers scheduled (a server with
/// an idle timeout) pays per iteration what one without them pays (see `runIOAndKernelTimer`).
///
/// Linux has `timerfd` (`TimerfdKernelTimer`); elsewhere there is none, and the loop times
/// its waits instead (`runIOAndTimers`).
protocol KernelTimer: AnyObject {
    /// The fd to register for `.read`.
    var readFD: Int32 { get }
    /// Makes `readFD` readable at `deadline` (nanoseconds of the monotonic clock, as
    /// `MonotonicClock.now()` reads it; at once if it has passed), replacing any earlier
    /// deadline. False if the kernel refused.
    func arm(at deadline: Int64) -> Bool
    /// Consumes the expiry, so `readFD` stops being readable.
    func drain()
    /// Closes the fd. Called once, after the loop stopped using it.
    func close()
}
