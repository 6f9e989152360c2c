/// Accepting from async code: `for try await connection in listener.connections(on: loop)`.
extension Listener {
    /// The connections accepted on `loop`, as an `AsyncSequence` of `AsyncConnection`s (served
    /// on that loop, by `using` or the loop's standard `AsyncConnections`). It ends (`nil`)
    /// when the listener is closed or the loop closes.
    ///
    /// ```swift
    /// for loop in group.loops {
    ///     Task(executorPreference: loop) {
    ///         for try await connection in listener.connections(on: loop) {
    ///             Task(executorPreference: loop) { try await serve(connection) }
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// Each `next()` accepts one queued connection, and waits (with no system call per wait
    /// where the kernel has edges) when none is queued. Out of descriptors, it waits
    /// `retryDelay` and tries again, as the callback watcher does.
    public func connections(on loop: EventLoop, using pool: AsyncConnections? = nil) -> AcceptedConnections {
        AcceptedConnections(listener: self, loop: loop, pool: pool)
    }
}

/// The connections a `Listener` accepts on one loop; see `Listener.connections(on:using:)`.
public struct AcceptedConnections: AsyncSequence {
    let listener: Listener
    let loop: EventLoop
    let pool: AsyncConnections?

    /// Accepts one connection per `next()`.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let listener: Listener
        let loop: EventLoop
        let pool: AsyncConnections?
        var watch: WatchOwner?

        /// The next connection, or `nil` once the listener or the loop is closed.
        ///
        /// It runs where its caller runs (`nonisolated(nonsending)`), as the waiting under it
        /// does: a plain `async` function switches to the generic executor and back around
        /// every call, each switch looking up the task's executor preference (callgrind, paced
        /// async connection cycle: 15,130 -> 14,651 instructions).
        public nonisolated(nonsending) mutating func next() async throws -> AsyncConnection? {
            if watch == nil {
                let made = AsyncAcceptWatch(listener: listener, loop: loop)
                guard listener.add(made, on: loop) else { return nil }
                watch = WatchOwner(made)
                try await made.watchLoopClose()
            }
            return try await watch!.watch.next(pool)
        }
    }

    /// Stops the watch when the last copy of its iterator goes (a `for try await` left with
    /// `break`, say): otherwise it would stay on the listener's and the loop's lists until
    /// either closed.
    final class WatchOwner: Sendable {
        let watch: AsyncAcceptWatch

        init(_ watch: AsyncAcceptWatch) { self.watch = watch }

        deinit { watch.stopFromAnyThread() }
    }

    /// Starts accepting.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(listener: listener, loop: loop, pool: pool, watch: nil)
    }
}

/// One loop's async watch of a `Listener`: accepts on demand, waiting for readability of the
/// listening socket in between. Its state is used on the loop's thread only.
final class AsyncAcceptWatch: ListenerWatch, @unchecked Sendable {
    private let listener: Listener
    private let loop: EventLoop
    private var isStopped = false
    /// The task waiting out a failed accept (`pause`), and the timer that ends the wait.
    private var paused: (task: UnsafeContinuation<Void, Never>, timer: TimerHandle)?

    init(listener: Listener, loop: EventLoop) {
        self.listener = listener
        self.loop = loop
    }

    /// Accepts the next connection (waiting for one), or nil once stopped or closed.
    nonisolated(nonsending) func next(_ pool: AsyncConnections?) async throws -> AsyncConnection? {
        while true {
            // Waits resume on the task's executor: back to the loop if that is not it.
            guard loop.isOnLoopThread else {
                return try await withTaskExecutorPreference(loop) {
                    guard loop.isOnLoopThread else { return nil }
                    return try await next(pool)
                }
            }
            guard !isStopped else { return nil }
            let accepted: Int32?
            do {
                accepted = try Socket.accept(listener.fd)
            } catch {
                // Out of descriptors, say: the connection stays queued; try again later.
                await pause(for: listener.options.retryDelay)
                try Task.checkCancellation()
                continue
            }
            guard let fd = accepted else {
                // Nothing queued. Only the watch's end is an end; any other failure of the
                // wait (another task waiting on this loop's watch, say) is the caller's.
                do {
                    try await loop.readable(listener.fd)
                } catch let error as SelectorError
                    where error.reason == .notRegistered || error.reason == .loopClosed
                {
                    return nil
                }
                continue
            }
            let io = loop.assumeIsolated()
            do throws(SelectorError) {
                let target: AsyncConnections
                if let pool { target = pool } else { target = try AsyncConnections.standard(on: io) }
                return try target.adopt(fd, on: io)
            } catch {
                Socket.close(fd)
                // A pool of another loop refuses every connection: the caller's mistake, said
                // once rather than closing every client in silence. Others are this fd's.
                if case .invalidArgument = error.reason { throw error }
                continue
            }
        }
    }

    /// Waits `delay` on the loop's timer, or until `stop` or the task's cancellation (loop
    /// thread, as is `next`, however it got there: so `nonsending`). Not `Task.sleep`: its
    /// timer is the global executor's, which sets itself up with descriptors of its own, and
    /// when there are none (what this wait is for) that set-up traps.
    nonisolated(nonsending) private func pause(for delay: Duration) async {
        let io = loop.assumeIsolated()
        await withTaskCancellationHandler {
            await withUnsafeContinuation { task in
                assert(paused == nil, "two tasks waiting in one accept watch")
                let timer = io.schedule(after: delay) { [self] in endPause() }
                paused = (task, timer)
            }
        } onCancel: {
            // From any thread; on the loop after the wait began (the closure above ran on it
            // already), or finding nothing to end.
            try? loop.execute { [self] in endPause() }
        }
    }

    private func endPause() {
        guard let (task, timer) = paused else { return }
        paused = nil
        timer.cancel()
        task.resume()
    }

    /// Has a closing loop stop this watch (see `AcceptWatcher.start`), from the loop's thread.
    nonisolated(nonsending) func watchLoopClose() async throws {
        guard loop.isOnLoopThread else {
            return try await withTaskExecutorPreference(loop) {
                // A closed loop runs the job here instead, off its thread: hopping again would
                // never end. The watch is over before it began.
                guard loop.isOnLoopThread else { return stopOnClosedLoop() }
                try await watchLoopClose()
            }
        }
        // `Listener.close()` may have stopped the watch on the loop already (its job ran
        // before this hop): an observer registered now would outlive the watch, and the
        // loop's close would call into freed memory.
        guard !isStopped else { return }
        loop.onClose(self) { [unowned(unsafe) self] in stop() }
    }

    /// Stops a watch whose loop closed before it could watch: nothing was registered.
    private func stopOnClosedLoop() {
        isStopped = true
        listener.watcherStopped(self)
    }

    /// `stop`, from any thread: now on the loop's, else as a task there (a closed loop has
    /// stopped every watch already).
    func stopFromAnyThread() {
        if loop.isOnLoopThread { return stop() }
        try? loop.execute { [self] in stop() }
    }

    /// Stops: a task waiting in `next` gets `nil` (unregistering the socket fails its wait).
    func stop() {
        guard !isStopped else { return }
        isStopped = true
        endPause()
        loop.removeCloseObserver(self)
        let io = loop.assumeIsolated()
        if let waiters = loop.waiters, waiters.owns(listener.fd),
            !listener.hasOtherWatcher(on: loop, than: self)
        {
            _ = try? io.unregister(listener.fd)
        }
        listener.watcherStopped(self)
    }
}
