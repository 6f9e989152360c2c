import CSelectors
import Selectors
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// An actor whose serial executor is a loop.
private actor RefusalWindowActor {
    let loop: EventLoop
    init(loop: EventLoop) { self.loop = loop }
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }

    func probe(_ body: @Sendable () -> Bool) -> (onLoopThread: Bool, loopClosed: Bool, beside: Bool) {
        (loop.isOnLoopThread, loop.isClosed, body())
    }
}

/// When an `EventLoopThread`'s `run()` returns, `closeRunningAcceptedTasks` first makes the
/// task queue refuse (`TaskQueue.refuse()`), then runs the accepted tasks with the loop still
/// open, and only then closes the loop. In that window `execute` throws `loopClosed` and the
/// executor's `enqueue` finds the queue refused, although the loop is not closed: callers that
/// take a refusal for "the loop is closed" go wrong.
@Suite struct RefusedBeforeCloseTests {
    /// The executor runs a refused job at once on the enqueuing thread (`ClosedLoopJobs`),
    /// meant for closed loops: here it runs beside the task on the loop thread, off the loop
    /// thread, while the loop is open (where `assumeIsolated()` in it would trap).
    @Test func aJobEnqueuedWhileTheThreadRunsItsAcceptedTasksDoesNotRunBesideThem() async throws {
        let thread = try EventLoopThread(name: uniqueThreadName("refjob-"))
        let firstStarted = SharedFlag()
        let inLastTask = Shared(false)
        // The first task holds the loop, so the second is still queued when stop() comes.
        try thread.loop.execute {
            firstStarted.set()
            sleep(for: .milliseconds(200))
        }
        #expect(holds(within: .seconds(5)) { firstStarted.isSet })
        try thread.loop.execute {
            inLastTask.withLock { $0 = true }
            sleep(for: .milliseconds(600))
            inLastTask.withLock { $0 = false }
        }
        thread.stop()
        // The second task now runs in closeRunningAcceptedTasks.
        #expect(holds(within: .seconds(5)) { inLastTask.value })
        let actor = RefusalWindowActor(loop: thread.loop)
        let seen = await actor.probe { inLastTask.value }
        try thread.join()
        #expect(
            seen.onLoopThread || seen.loopClosed,
            "a job of the loop ran off its thread while the loop was open: \(seen)")
        #expect(!seen.beside, "a job of the loop ran at the same time as a task on the loop thread")
    }

    /// `Listener.close()` takes a refused stop task for a stopped watcher and closes the
    /// socket, while the loop, still open, has it registered: against "closes the socket once
    /// no loop watches it any more (so no selector ever holds the closed number, or a number
    /// reused by then)". The watcher's close observer later unregisters that number.
    @Test func closingAListenerWhileItsLoopThreadEndsKeepsTheSocketOpenUntilTheLoopLetsGo() throws {
        let listener = try Listener(address: .ipv4Loopback(port: 0))
        let thread = try EventLoopThread(name: uniqueThreadName("reflst-")) { io in
            try listener.accept(on: io) { event in
                if case .accepted(let fd) = event { Socket.close(fd) }
            }
        }
        let loop = thread.loop
        let firstStarted = SharedFlag()
        try loop.execute {
            firstStarted.set()
            sleep(for: .milliseconds(200))
        }
        #expect(holds(within: .seconds(5)) { firstStarted.isSet })
        let inLastTask = SharedFlag()
        let listenerClosed = SharedFlag()
        let seen = Shared<(registered: Bool, open: Bool)?>(nil)
        try loop.execute {
            inLastTask.set()
            _ = holds(within: .seconds(2)) { listenerClosed.isSet }
            let io = loop.assumeIsolated()
            let registered = (try? io.key(for: listener.fd)) != nil
            let open = fcntl(listener.fd, F_GETFD) != -1
            seen.withLock { $0 = (registered, open) }
        }
        thread.stop()
        #expect(holds(within: .seconds(5)) { inLastTask.isSet })
        listener.close()
        listenerClosed.set()
        try thread.join()
        let observed = seen.value
        #expect(observed != nil)
        if let observed, observed.registered {
            #expect(observed.open, "the listener closed its socket while a loop's selector still held it")
        }
    }
}
