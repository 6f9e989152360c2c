import Synchronization

/// Awaiting readiness: `try await loop.readable(fd)` suspends the task until the fd can be
/// read (or has an error or a hang-up a read will report), from any task.
///
/// ```swift
/// while true {
///     if let count = try Socket.read(fd, into: buffer) { return count }  // 0: end of stream
///     try await loop.readable(fd)                                      // would block: wait
/// }
/// ```
///
/// Try the system call first and wait only on `EAGAIN`: readiness may be stale (a wait can
/// return for a readiness the task then finds already used up), as with every readiness API.
/// The fd is registered with the loop the first time a task waits on it and stays registered,
/// with no system call per wait, until `IsolatedEventLoop.unregister(fd)` (call it before you
/// close the fd; waiting tasks then fail with `notRegistered`). A task running on the loop
/// (`Task(executorPreference: loop)`, an actor on the loop's executor) waits without any
/// thread hop; from elsewhere the request goes through `execute`.
///
/// Errors: `CancellationError` when the task is cancelled (the wait is removed, the fd stays
/// registered); `SelectorError` with `loopClosed` when the loop closes, `notRegistered` when
/// the fd is unregistered, `alreadyWaiting` when another task waits on the same fd for the
/// same direction, `negativeDescriptor`, `descriptorTooLarge` or `descriptorBeyondTable` for an
/// fd the loop's selector could never watch, or what registering the fd threw.
extension EventLoop {
    /// Suspends until `fd` is readable. See the extension's documentation.
    nonisolated(nonsending) public func readable(_ fd: Int32) async throws {
        try await wait(fd, .read, .readable)
    }

    /// Suspends until `fd` is writable. See the extension's documentation.
    nonisolated(nonsending) public func writable(_ fd: Int32) async throws {
        try await wait(fd, .write, .writable)
    }

    /// How many tasks wait in `readable`/`writable` now. Loop thread.
    var readinessWaiterCount: Int { waiters?.count ?? 0 }

    nonisolated(nonsending) private func wait(
        _ fd: Int32, _ direction: Events, _ operation: SelectorError.Operation
    ) async throws {
        guard isOnLoopThread else { return try await waitFromElsewhere(fd, direction, operation) }
        if waiters?.takeCached(fd, direction) == true { return }
        let id = waiterIDs.wrappingAdd(1, ordering: .relaxed).newValue
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                readinessWaiters().install(fd, direction, id: id, continuation, operation: operation)
            }
        } onCancel: {
            cancel(fd, direction, id: id)
        }
    }

    /// `wait` from a task off the loop's thread: the request goes through `execute`. Until the
    /// loop installs it, the waiter is in a `QueuedWait`, which a cancellation empties itself.
    nonisolated(nonsending) private func waitFromElsewhere(
        _ fd: Int32, _ direction: Events, _ operation: SelectorError.Operation
    ) async throws {
        let id = waiterIDs.wrappingAdd(1, ordering: .relaxed).newValue
        let queued = QueuedWait(fd: fd, operation: operation)
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                guard queued.hold(continuation) else {
                    return continuation.resume(throwing: CancellationError())
                }
                // The closure holds the request through `QueuedWaitRequest`, whose deinit
                // resumes a continuation nobody took: `queued` itself lives on in this task's
                // frame (the cancellation handler holds it), so its own deinit cannot run
                // while the task waits, and a closure dropped by `close()` would hang it.
                let request = QueuedWaitRequest(queued)
                do {
                    try execute { [self] in
                        guard let continuation = request.queued.take() else { return }
                        readinessWaiters().install(fd, direction, id: id, continuation, operation: operation)
                    }
                } catch {
                    queued.take()?.resume(throwing: SelectorError(operation, fd: fd, .loopClosed))
                }
            }
        } onCancel: {
            switch queued.cancel() {
            case .resumeNow(let continuation): continuation.resume(throwing: CancellationError())
            case .installed: cancel(fd, direction, id: id)
            case .done: break
            }
        }
    }

    /// Cancels an installed waiter, on the loop's thread (a closed loop resumed every waiter
    /// already).
    private func cancel(_ fd: Int32, _ direction: Events, id: UInt64) {
        if isOnLoopThread {
            // Through `readinessWaiters()`, not `waiters?`: made on first use either way.
            readinessWaiters().cancel(fd, direction, id: id)
        } else {
            try? execute { [self] in readinessWaiters().cancel(fd, direction, id: id) }
        }
    }

    /// The waiters, made on first use (loop thread).
    private func readinessWaiters() -> ReadinessWaiters {
        if let waiters { return waiters }
        let made = ReadinessWaiters(loop: self)
        waiters = made
        return made
    }
}

/// What the `execute` closure of a wait from elsewhere holds: when the closure goes without
/// having run (the loop closed and dropped it), the wait ends with `loopClosed`.
private final class QueuedWaitRequest: Sendable {
    let queued: QueuedWait
    init(_ queued: QueuedWait) { self.queued = queued }
    deinit { queued.resumeClosedIfWaiting() }
}

/// A readiness wait on its way to the loop (from another thread, in an `execute` closure).
/// Whoever takes the continuation resumes it: the loop, which installs it; a cancellation
/// that comes first; or, if the loop closed before running the closure and nobody has taken
/// it when the closure is dropped, the deinit, with `loopClosed`. So it is resumed exactly
/// once, and a cancellation needs nothing kept on the loop's side.
private final class QueuedWait: Sendable {
    private enum State {
        case empty
        case holding(UnsafeContinuation<Void, any Error>)
        case taken
        case cancelled
    }

    /// What a cancellation has to do.
    enum Cancellation {
        /// Resume this continuation with `CancellationError` (the loop never will).
        case resumeNow(UnsafeContinuation<Void, any Error>)
        /// The loop took the waiter: cancel it there.
        case installed
        /// Nothing: cancelled before the wait began (it throws by itself), or again.
        case done
    }

    private let state = Locked(State.empty)
    private let fd: Int32
    private let operation: SelectorError.Operation

    init(fd: Int32, operation: SelectorError.Operation) {
        self.fd = fd
        self.operation = operation
    }

    deinit { resumeClosedIfWaiting() }

    /// The loop will never take the waiter: it fails with `loopClosed`, unless taken already.
    func resumeClosedIfWaiting() {
        take()?.resume(throwing: SelectorError(operation, fd: fd, .loopClosed))
    }

    /// Keeps the task's continuation; false if the task was cancelled first.
    func hold(_ continuation: UnsafeContinuation<Void, any Error>) -> Bool {
        state.withLock { state in
            if case .cancelled = state { return false }
            state = .holding(continuation)
            return true
        }
    }

    /// The continuation, the first time only, unless a cancellation took it.
    func take() -> UnsafeContinuation<Void, any Error>? {
        state.withLock { state in
            guard case .holding(let continuation) = state else { return nil }
            state = .taken
            return continuation
        }
    }

    /// Marks the wait cancelled and says what is left to do.
    func cancel() -> Cancellation {
        state.withLock { state in
            switch state {
            case .empty:
                state = .cancelled
                return .done
            case .holding(let continuation):
                state = .cancelled
                return .resumeNow(continuation)
            case .taken:
                return .installed
            case .cancelled:
                return .done
            }
        }
    }
}
