/// One loop's part of a `Listener`: it watches the socket, accepts, and pauses when accepting
/// fails. Confined to that loop's thread.
final class AcceptWatcher: ListenerWatch, @unchecked Sendable {
    // @unchecked: only `Listener.close()` touches it from another thread, and only to send it
    // to its loop with `execute`; all its state is used on that loop's thread.
    private let listener: Listener
    private let io: IsolatedEventLoop
    private let handler: (Listener.Event) -> Void
    private var isWatching = false
    private var isStopped = false
    private var pauses = 0
    private var retry: TimerHandle?
    private var continuation: TimerHandle?

    init(listener: Listener, loop: IsolatedEventLoop, handler: @escaping (Listener.Event) -> Void) {
        self.listener = listener
        self.io = loop
        self.handler = handler
    }

    func start() throws(SelectorError) {
        try watch()
        // A loop that closes stops watching for good: the listener must hear of it, or a
        // `close()` whose task the closing loop dropped would never close the socket.
        io.eventLoop.onClose(self) { [unowned(unsafe) self] in stop() }
    }

    /// Stops watching for good and tells the listener (which may then close the socket).
    func stop() {
        guard !isStopped else { return }
        isStopped = true
        io.eventLoop.removeCloseObserver(self)
        retry?.cancel()
        continuation?.cancel()
        if isWatching {
            _ = try? io.unregister(listener.fd)
            isWatching = false
        }
        listener.watcherStopped(self)
    }

    private func watch() throws(SelectorError) {
        // The handler keeps the watcher alive while it is registered; `stop` unregisters it.
        try io.register(listener.fd, events: .read, trigger: listener.options.trigger) { [self] _, _ in
            acceptReady()
        }
        isWatching = true
    }

    /// Accepts up to `acceptBatch` connections. A full batch in edge mode has not seen `EAGAIN`
    /// and the socket will not be reported again for the connections still queued, so a
    /// zero-delay timer goes on after this iteration's handlers.
    private func acceptReady() {
        var remaining = listener.options.acceptBatch
        while remaining > 0, !isStopped {
            remaining -= 1
            let fd: Int32
            do {
                guard let accepted = try Socket.accept(listener.fd) else { return }
                fd = accepted
            } catch {
                acceptFailed(error)
                return
            }
            if pauses > 0 {
                let count = pauses
                pauses = 0
                handler(.resumed(pauses: count))
            }
            handler(.accepted(fd))
        }
        if listener.options.trigger == .edge, !isStopped, continuation == nil { continueNextTurn() }
    }

    // Out of line: the timer's clock reading passes a pointer to a local, which gave every
    // accept a stack protector (callgrind: 5 instructions per connection cycle).
    @inline(never)
    private func continueNextTurn() {
        continuation = io.schedule(after: .zero) { [self] in
            continuation = nil
            acceptReady()
        }
    }

    /// The connection stays queued after a failure, so accepting again at once would spin:
    /// stop watching and retry on a timer.
    private func acceptFailed(_ error: Errno) {
        pauses += 1
        if isWatching {
            _ = try? io.unregister(listener.fd)
            isWatching = false
        }
        handler(.paused(error))
        guard !isStopped else { return }
        retry = io.schedule(after: listener.options.retryDelay) { [self] in
            retry = nil
            guard !isStopped, !isWatching else { return }
            do {
                try watch()
            } catch {
                // The socket can no longer be watched here; the other loops carry on.
                stop()
            }
        }
    }
}
