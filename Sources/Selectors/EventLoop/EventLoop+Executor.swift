internal import CSelectors

/// The loop as a Swift concurrency executor, so tasks and actors can run on its thread:
///
/// ```swift
/// Task(executorPreference: loop) { /* nonisolated async code, on the loop's thread */ }
/// actor Session {
///     let loop: EventLoop
///     nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
/// }
/// ```
///
/// Jobs enqueued on the loop's own thread go to a plain array the loop drains after its
/// handlers and timers (no lock, no wake-up); from other threads they go through the same
/// locked queue and coalesced wake-up as `execute`. A continuation the loop resumes (from a
/// handler) therefore runs its task in the same iteration, with no thread hop.
///
/// **Two roles, two doors.** The runtime hands the loop two kinds of job: those of tasks that
/// prefer the loop as their task executor (nonisolated code), and those of actors whose serial
/// executor is the loop. Each must be run in its own mode, or it comes straight back: a task
/// job run as if isolated to a serial executor switches away at its next nonisolated call,
/// and an actor's job run as nonisolated switches back to the actor at its next isolated one
/// (measured: 3 and 2 jobs per suspension instead of 1). Both kinds would arrive through the
/// one `enqueue` that `SerialExecutor` and `TaskExecutor` share, so the serial role has a
/// door of its own: `asUnownedSerialExecutor()` names a small `LoopSerialExecutor` that queues
/// its jobs on the same loop, marked. The loop itself, used as an executor anywhere else, runs
/// jobs as a task executor.
///
/// **After close.** The runtime needs every job it hands an executor to run exactly once: a
/// job dropped would leave its task suspended forever, with everything it holds. So once the
/// loop is closed, its jobs (those still queued, and any enqueued later) run on the thread
/// that closed the loop or enqueued them, one at a time, never two at once (`ClosedLoopJobs`),
/// and isolation checks hold inside them. A job enqueued after the close runs inside the call
/// that enqueued it: code that resumes a continuation of a task on a closed loop runs that
/// task's next steps before `resume` returns. (Unless another thread is running the closed
/// loop's jobs, which then runs it too; or the loop's thread closed the loop inside `run`,
/// `runOnce` or `closeRunningAcceptedTasks`, which hold them until it leaves.) The loop's
/// operations then fail (`loopClosed`, `selectorClosed`), and awaited readiness throws, so
/// such tasks finish instead of hanging.
extension EventLoop: SerialExecutor, TaskExecutor {
    /// Runs `job` on the loop's thread, as a task executor's job (see above).
    public func enqueue(_ job: consuming ExecutorJob) {
        queue(LoopJob(UnownedJob(job), isolated: false))
    }

    /// The loop as the executor of an actor (`unownedExecutor`): its serial role.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: serialExecutor)
    }

    /// Traps unless the caller runs on the loop's thread (or in a job of a closed loop): what
    /// `assumeIsolated` and `preconditionIsolated` rely on.
    public func checkIsolated() {
        precondition(isIsolatingCurrentContext() == true, "not on the event loop's thread")
    }

    /// Whether the caller runs on the loop's thread (or in a job of a closed loop).
    public func isIsolatingCurrentContext() -> Bool? {
        isOnLoopThread || closedJobs.isRunningOnCurrentThread
    }

    func queue(_ job: LoopJob) {
        if isOnLoopThread && !isClosed {
            localJobs.append(job)
            hasLocalWork = true
        } else if !tasks.submit(.job(job)) {
            // Refused: the loop is closed, or its thread is running the tasks it accepted
            // before it closes (`closeRunningAcceptedTasks`); then the job waits for the close.
            closedJobs.runOrPark(job, on: self)
        }
    }

    /// Runs a job of this loop in the mode it was enqueued for.
    func run(_ job: LoopJob) {
        if job.isolated {
            job.job.runSynchronously(on: asUnownedSerialExecutor())
        } else {
            job.job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// A job queued on a loop, and the role it was enqueued for.
struct LoopJob: Sendable {
    let job: UnownedJob
    /// Enqueued on the loop's serial role (an actor's job), not as a task executor.
    let isolated: Bool

    init(_ job: UnownedJob, isolated: Bool) {
        self.job = job
        self.isolated = isolated
    }
}

/// The loop's serial-executor role: what `EventLoop.asUnownedSerialExecutor()` names, so that
/// actors' jobs reach the loop through a door of their own (see `EventLoop+Executor`).
public final class LoopSerialExecutor: SerialExecutor, @unchecked Sendable {
    // @unchecked: `loop` is written once, in the loop's `init`, before anything can see it.
    /// The loop whose thread runs the jobs. Set once, by the loop's `init`, before the
    /// executor can be reached; unowned, since the loop owns it.
    public internal(set) unowned(unsafe) var loop: EventLoop!

    init() {}

    /// Runs `job` on the loop's thread, isolated to this executor.
    public func enqueue(_ job: consuming ExecutorJob) {
        loop.queue(LoopJob(UnownedJob(job), isolated: true))
    }

    /// This executor.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    /// Traps unless the caller runs on the loop's thread. See `EventLoop.checkIsolated`.
    public func checkIsolated() { loop.checkIsolated() }

    /// Whether the caller runs on the loop's thread. See `EventLoop.isIsolatingCurrentContext`.
    public func isIsolatingCurrentContext() -> Bool? { loop.isIsolatingCurrentContext() }
}

/// The jobs of a closed loop: run at once on the calling thread, one at a time. A thread that
/// enqueues while another is running them only adds to the queue; the running thread takes
/// it. So jobs never run at the same time, as a serial executor promises, and none is lost.
final class ClosedLoopJobs: Sendable {
    private struct State {
        var queue: [LoopJob] = []
        var runner: UInt64?
        /// Set by the loop's `closeResources`: from then on jobs run at once.
        var loopClosed = false
    }

    /// A job the task queue refused: run now if the loop is closed, else kept for `run`,
    /// which `closeResources` calls.
    func runOrPark(_ job: LoopJob, on loop: EventLoop) {
        let parked = state.withLock { state -> Bool in
            guard !state.loopClosed else { return false }
            state.queue.append(job)
            return true
        }
        if !parked { run([job], on: loop) }
    }

    private let state = Locked(State())

    /// Called once by `closeResources`: runs the jobs given and any parked, and every later
    /// one at once. With `holding` (the loop's thread closed the loop while running its jobs,
    /// one of which may be running still: an actor's, say), none runs until
    /// `releaseHold` once that is over: the loop's thread counts as their runner meanwhile,
    /// so no other thread runs one beside it.
    func loopClosed(_ jobs: [LoopJob], on loop: EventLoop, holding: Bool) {
        if holding {
            state.withLock { state in
                state.loopClosed = true
                state.queue += jobs
                state.runner = ThreadIdentity.current
            }
            return
        }
        state.withLock { $0.loopClosed = true }
        run(jobs, on: loop)
    }

    /// Ends the hold of `loopClosed(_:on:holding:)` and runs what queued up meanwhile.
    func releaseHold(on loop: EventLoop) {
        state.withLock { $0.runner = nil }
        run([], on: loop)
    }

    func run(_ jobs: [LoopJob], on loop: EventLoop) {
        let mine = state.withLock { state -> Bool in
            state.queue += jobs
            guard !state.queue.isEmpty, state.runner == nil else { return false }
            state.runner = ThreadIdentity.current
            return true
        }
        guard mine else { return }
        while let job = state.withLock({ state -> LoopJob? in
            guard !state.queue.isEmpty else {
                state.runner = nil
                return nil
            }
            return state.queue.removeFirst()
        }) {
            loop.run(job)
        }
    }

    /// Whether the calling thread is running a closed loop's jobs now.
    var isRunningOnCurrentThread: Bool {
        state.withLock { state in state.runner == ThreadIdentity.current }
    }
}
