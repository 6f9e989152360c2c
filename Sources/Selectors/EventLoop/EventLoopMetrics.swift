/// Counters an `EventLoop` keeps about its own work, like libuv's loop metrics.
///
/// Wait time is spent blocked in the selector; work time is spent dispatching handlers,
/// timers and tasks. Their ratio shows how busy a loop is.
public struct EventLoopMetrics: Sendable, Equatable, CustomStringConvertible {
    /// Completed loop iterations (one wait and its dispatch each).
    public internal(set) var iterations: UInt64 = 0
    /// I/O handler invocations, the loop's own included: its waker's (a wake-up by `execute`,
    /// `stop` or `wakeUp` from another thread) and, when timers use the kernel's timer
    /// (`EventLoop.usesKernelTimer`), one per expiry. Not subtracted, which would cost every
    /// iteration: a loop's own events are at most one per wake-up and one per timer batch.
    public internal(set) var eventsDispatched: UInt64 = 0
    /// Timer body invocations.
    public internal(set) var timersFired: UInt64 = 0
    /// Closures run from `execute`.
    public internal(set) var tasksRun: UInt64 = 0
    /// Total time blocked in `select`; zero unless `EventLoop.measuresTime` is on.
    public internal(set) var waitTime: Duration = .zero
    /// Total time spent running handlers, timers and tasks; zero unless
    /// `EventLoop.measuresTime` is on.
    public internal(set) var workTime: Duration = .zero

    /// One line for logs.
    public var description: String {
        "iterations=\(iterations) events=\(eventsDispatched) timers=\(timersFired) tasks=\(tasksRun) "
            + "wait=\(waitTime) work=\(workTime)"
    }
}

/// The loop's raw counters: plain integers, so counting costs no `Duration` arithmetic.
struct LoopCounters {
    var iterations: UInt64 = 0
    var eventsDispatched: UInt64 = 0
    var timersFired: UInt64 = 0
    var tasksRun: UInt64 = 0
    var waitNanoseconds: Int64 = 0
    var workNanoseconds: Int64 = 0

    var snapshot: EventLoopMetrics {
        var metrics = EventLoopMetrics()
        metrics.iterations = iterations
        metrics.eventsDispatched = eventsDispatched
        metrics.timersFired = timersFired
        metrics.tasksRun = tasksRun
        metrics.waitTime = .nanoseconds(waitNanoseconds)
        metrics.workTime = .nanoseconds(workNanoseconds)
        return metrics
    }
}
