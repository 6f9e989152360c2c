import Synchronization

/// An event loop running on a thread of its own.
///
/// ```swift
/// let thread = try EventLoopThread(name: "io") { io in
///     try io.register(fd, events: .read) { fd, _ in /* on the "io" thread */ }
/// }
/// try thread.loop.execute { print("on the io thread") }
/// thread.shutdown()          // stop the loop, wait for the thread, loop closed
/// ```
///
/// The thread creates the loop (so the loop belongs to it), runs `setUp` with the loop's
/// isolated view, and then runs the loop until `stop()`; when `run()` returns it runs the
/// tasks `execute` accepted meanwhile and closes the loop, so later `execute` calls throw
/// `loopClosed` and no accepted task is lost. `init` returns once `setUp` has finished,
/// and throws what it threw. Use it instead of `Task.detached { loop.run() }`, which would
/// block a thread of Swift's cooperative pool for as long as the loop runs.
public final class EventLoopThread: Sendable {
    /// The loop; any thread may `execute` on it, schedule `@Sendable` timers, or stop it.
    public let loop: EventLoop
    /// The thread's name, as given (the system may keep only its first 15 bytes).
    public let name: String

    private let thread: SystemThread
    private let joined = Locked(false)
    private let state = RunState()

    /// Starts a thread named `name`, creates a loop on `backend` there, runs `setUp` on it,
    /// and leaves the loop running.
    ///
    /// - Parameter setUp: runs on the new thread before the loop does; registers fds, timers
    ///   and signals. What it captures moves to the loop's thread (`sending`).
    /// - Throws: the `SelectorError` of creating the loop, the `Errno` of `pthread_create`,
    ///   or whatever `setUp` threw (the loop is closed and the thread gone by then).
    public init(
        name: String = "selectors-loop", backend: Backend = .default,
        setUp: sending @escaping (IsolatedEventLoop) throws -> Void = { _ in }
    ) throws {
        let started = Latch<StartResult>()
        let state = self.state
        thread = try SystemThread(name: name) {
            var created: IsolatedEventLoop?
            let io: IsolatedEventLoop
            do {
                io = try EventLoop(backend: backend).assumeIsolated()
                created = io
                try setUp(io)
            } catch {
                // Closed, not just dropped: a handler `setUp` registered may capture the loop,
                // a cycle that only `close` breaks (the loop's descriptors would leak).
                created?.close()
                state.running.store(false, ordering: .releasing)
                started.fulfill(.failed(error))
                return
            }
            started.fulfill(.started(io.eventLoop))
            do throws(SelectorError) {
                try io.run()
            } catch {
                state.failure.withLock { $0 = error }
            }
            // Every task `execute` accepted runs, even one that came in after `stop()`.
            io.eventLoop.closeRunningAcceptedTasks()
            state.running.store(false, ordering: .releasing)
        }
        switch started.wait() {
        case .started(let loop):
            self.loop = loop
            self.name = name
        case .failed(let error):
            thread.join()
            throw error
        }
    }

    deinit {
        guard !joined.withLock({ $0 }) else { return }
        loop.stop()
        // The last reference may go on the loop's own thread (from a handler), which cannot
        // wait for itself to end.
        if thread.isCurrent { thread.detach() } else { thread.join() }
    }

    /// Makes the loop return from `run()`; the thread then closes it and ends. Any thread.
    public func stop() {
        loop.stop()
    }

    /// Waits for the thread to end (after `stop()`, or a handler stopping or closing the loop):
    /// `pthread_join`. Any thread but the loop's own; several callers may wait at once.
    /// - Throws: `join` with `invalidArgument` on the loop's own thread (a handler, task or
    ///   timer), which would wait for itself forever; `shutdown()` is the call that works there.
    public func join() throws(SelectorError) {
        // Checked outside the lock: the loop thread must fail here, not wait for a joiner that
        // waits for it. `isCurrent` compares `ThreadIdentity` numbers, never reused.
        if thread.isCurrent { throw Self.joinOnOwnThread }
        joinOtherThread()
    }

    /// What `join()` throws on a loop's own thread (also `EventLoopGroup.join()`).
    static let joinOnOwnThread = SelectorError(
        .join, fd: nil,
        .invalidArgument("called on the loop's own thread, which cannot wait for itself to end"))

    /// `join()` from a thread known not to be the loop's.
    func joinOtherThread() {
        joined.withLock { joined in
            guard !joined else { return }
            thread.join()
            joined = true
        }
    }

    /// Stops the loop and waits for its thread to end. Any thread; on the loop's own (from a
    /// handler, task or timer) it stops the loop and returns at once, since the thread cannot
    /// wait for itself: the thread ends after the current iteration, and `join()` elsewhere
    /// waits for that.
    public func shutdown() {
        stop()
        if thread.isCurrent { return }
        joinOtherThread()
    }

    /// Whether the loop is still running (false once `run()` has returned and the loop closed).
    public var isRunning: Bool { state.running.load(ordering: .acquiring) }

    /// The error that ended `run()` early (a failing `select`), if any.
    public var runFailure: SelectorError? { state.failure.withLock { $0 } }

    /// Whether the calling thread is this loop's.
    public var isCurrent: Bool {
        // No lock: `join()` holds it while it waits for this thread, which may be asking.
        // `ThreadIdentity` numbers are never reused, so a joined thread's cannot match.
        thread.isCurrent
    }
}

/// What a starting loop thread tells `EventLoopThread.init`.
private enum StartResult: Sendable {
    case started(EventLoop)
    case failed(any Error)
}

/// What the loop's thread reports while it runs.
private final class RunState: Sendable {
    let running = Atomic<Bool>(true)
    let failure = Locked<SelectorError?>(nil)
}
