/// An `EventLoop` on virtual time and scripted readiness, for unit-testing handlers, timers
/// and protocol state machines built on `EventLoop` without sockets, threads or sleeps:
/// SwiftNIO's `EmbeddedEventLoop`, at this library's level.
///
/// ```swift
/// let test = VirtualEventLoop()
/// var fired = false                                 // (in a test function)
/// test.loop.schedule(after: .seconds(30)) { fired = true }
/// try test.advance(by: .seconds(29))                // fired == false
/// try test.advance(by: .seconds(1))                 // fired == true, and no time went by
/// ```
///
/// `loop` is a real `EventLoop`: its iteration order, timer queue, task queue, selector
/// bookkeeping and stale-event dropping are the ones under test. Only two things differ:
/// - **Time** is virtual. It starts where `init` says and moves only through `advance(by:)`,
///   `advance(to:)` and `spendTime(_:)`; `loop.now` and `loop.schedule(after:)` read it.
/// - **Readiness** comes from `script` (a `ReadinessScript`), not the kernel. fds are plain
///   numbers: the loop itself opens none (no waker, no signal pipe), so every number is free.
///
/// Nothing here blocks: the loop's waits return at once. So `loop.run()` throws `virtualLoop`
/// (it would spin), and so do `loop.onSignal` (no signal can reach a script); drive the loop
/// with `run()` and `advance` instead, on one thread. `loop.execute` works from any thread:
/// the task runs at the next iteration `run()` or `advance` makes.
///
/// No time passes during an iteration unless a handler calls `spendTime(_:)`. So a timer that
/// an I/O handler schedules with zero delay is already due when that iteration's timers run;
/// on a real loop it runs in that iteration or the next, depending on whether the loop reads
/// the clock before or after the handlers (see `EventLoop+Running`).
///
/// **When an instant is done.** At one instant the loop iterates (at least once) until
/// nothing new is due there: no timer due, no task queued, and no readiness that a
/// registration has not been told about yet (a `deliver`, a scripted change since its last
/// report, a new or widened registration). Standing readiness (`makeReady`) that nobody
/// changes is reported by every iteration, as a level-triggered kernel reports it, but is
/// no reason to iterate again: otherwise a handler that leaves its fd readable would keep
/// the instant busy forever. Work that re-creates itself at the same instant (a zero-delay
/// timer re-arming itself, a task submitting itself) ends the instant after
/// `iterationLimit` iterations, as a safety net, so no test hangs.
public final class VirtualEventLoop {
    /// The loop under test, as its own thread sees it: hand it to the code being tested
    /// (`loop.eventLoop` is the `Sendable` loop, for code that takes one).
    public let loop: IsolatedEventLoop
    /// Decides which fds the loop's selector reports ready.
    public let script: ReadinessScript
    /// The most iterations one instant may take before `run()` or `advance` moves on
    /// (see the type's documentation). 10,000 by default.
    public var iterationLimit = 10_000

    private let clock: VirtualClock
    private let backend: ScriptedBackend

    /// Creates a loop whose clock reads `start` (by default zero) and whose readiness comes
    /// from `script` (by default a new, empty one).
    public init(
        startingAt start: LoopInstant = LoopInstant(nanoseconds: 0),
        script: ReadinessScript = ReadinessScript()
    ) {
        self.script = script
        clock = VirtualClock(nanoseconds: start.nanoseconds)
        backend = ScriptedBackend(script: script)
        let selector = Selector(backend: .scripted, kernel: backend, resumesEarlyWakeUps: false)
        loop = IsolatedEventLoop(EventLoop(selector: selector, waker: SilentWaker(), virtualClock: clock))
    }

    /// The virtual time; the same as `loop.now`.
    public var now: LoopInstant { LoopInstant(nanoseconds: clock.nanoseconds) }

    /// Whether something is due at the current instant: a timer, a queued task, or
    /// readiness some registration has not been told about (see the type's documentation).
    public var hasPendingWork: Bool {
        if loop.eventLoop.hasQueuedTasks || backend.hasNews { return true }
        guard let deadline = loop.eventLoop.nextTimerDeadline else { return false }
        return deadline <= clock.nanoseconds
    }

    /// Whether the code under test called `loop.stop()`. Nothing consumes it: the virtual
    /// loop has no `run()` of the loop's own that could return.
    public var isStopRequested: Bool { loop.eventLoop.isStopRequested }

    /// Runs everything due at the current instant, without moving time, and returns how
    /// many iterations that took (at least one).
    /// - Throws: `loopClosed` if the loop is closed; it stops early, without throwing,
    ///   when a handler closes it. `invalidArgument` when called from one of the loop's own
    ///   handlers, tasks or timers (running is not reentrant).
    @discardableResult
    public func run() throws(SelectorError) -> Int {
        try runInstant()
    }

    /// Moves time forward by `duration`, stopping at every timer deadline on the way to run
    /// what is due there, in deadline order (then scheduling order); returns the iterations
    /// run. A negative duration moves nothing and runs what is due now; time saturates at
    /// `LoopInstant(nanoseconds: Int64.max)`, where timers of saturated huge delays fall due.
    @discardableResult
    public func advance(by duration: Duration) throws(SelectorError) -> Int {
        try advance(to: now.advanced(by: max(duration, .zero)))
    }

    /// Moves time forward to `deadline`, as `advance(by:)` does. An instant in the past moves
    /// nothing (time never goes back) and runs what is due now.
    @discardableResult
    public func advance(to deadline: LoopInstant) throws(SelectorError) -> Int {
        let target = max(deadline.nanoseconds, clock.nanoseconds)
        var iterations = try runInstant()
        while clock.nanoseconds < target {
            guard !loop.isClosed else {
                clock.nanoseconds = target
                break
            }
            // After a finished instant the next timer lies ahead. If the instant was cut off
            // at `iterationLimit` with a timer still due (one re-arming itself there), go to
            // the next deadline after it, so the other timers still fire at theirs.
            var next = min(loop.eventLoop.nextTimerDeadline ?? target, target)
            if next <= clock.nanoseconds {
                next = min(loop.eventLoop.timerDeadline(after: clock.nanoseconds) ?? target, target)
            }
            clock.nanoseconds = next
            iterations += try runInstant()
        }
        return iterations
    }

    /// Moves the clock forward by `duration` without running anything, as if the code
    /// running right now took that long: call it from a handler or timer to make the loop
    /// late (timers that fall due meanwhile run at the next iteration, late but never early).
    /// Negative durations are ignored.
    public func spendTime(_ duration: Duration) {
        clock.nanoseconds = clock.nanoseconds.addingSaturating(max(0, duration.saturatedNanoseconds))
    }

    private func runInstant() throws(SelectorError) -> Int {
        var iterations = 0
        repeat {
            try loop.runOnce(timeout: .zero)
            iterations += 1
        } while iterations < iterationLimit && !loop.isClosed && hasPendingWork
        return iterations
    }
}
