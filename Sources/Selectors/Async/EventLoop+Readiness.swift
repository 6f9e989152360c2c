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
        if isOnLoopThread, waiters?.takeCached(fd, direction) == true { return }
        let id = waiterIDs.wrappingAdd(1, ordering: .relaxed).newValue
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                if isOnLoopThread {
                    readinessWaiters().install(fd, direction, id: id, continuation, operation: operation)
                    return
                }
                // The continuation travels in a `QueuedWait`: a loop that closes before running
                // the closure drops it, and the wait then fails with `loopClosed` rather than
                // never being resumed.
                let queued = QueuedWait(continuation, fd: fd, operation: operation)
                do {
                    try execute { [self] in
                        guard let continuation = queued.take() else { return }
                        readinessWaiters().install(fd, direction, id: id, continuation, operation: operation)
                    }
                } catch {
                    queued.take()?.resume(throwing: SelectorError(operation, fd: fd, .loopClosed))
                }
            }
        } onCancel: {
            // Through `readinessWaiters()`, not `waiters?`: a cancellation that comes before
            // the loop's first wait must still be noted (`cancelledEarly`), or that wait,
            // installed next, would never hear of it.
            if isOnLoopThread {
                readinessWaiters().cancel(fd, direction, id: id)
            } else {
                // A closed loop resumed every waiter already.
                try? execute { [self] in readinessWaiters().cancel(fd, direction, id: id) }
            }
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

/// A readiness wait on its way to the loop (from another thread, in an `execute` closure).
/// Whoever takes the continuation resumes it; if nobody has when the closure is dropped (the
/// loop closed before running it), the wait fails with `loopClosed`, so it is resumed exactly
/// once either way.
private final class QueuedWait: Sendable {
    private let continuation: Locked<UnsafeContinuation<Void, any Error>?>
    private let fd: Int32
    private let operation: SelectorError.Operation

    init(_ continuation: UnsafeContinuation<Void, any Error>, fd: Int32, operation: SelectorError.Operation) {
        self.continuation = Locked(continuation)
        self.fd = fd
        self.operation = operation
    }

    deinit {
        take()?.resume(throwing: SelectorError(operation, fd: fd, .loopClosed))
    }

    /// The continuation, the first time only.
    func take() -> UnsafeContinuation<Void, any Error>? {
        continuation.withLock { continuation in
            defer { continuation = nil }
            return continuation
        }
    }
}
