import CSelectors
import Selectors
import Testing

/// `stop()`: from another thread, from a handler, before `run()`, and a `run()` after that.
@Suite struct EventLoopStopTests {
    @Test(arguments: Backend.available)
    func stopFromAnotherThreadEndsARunBlockedInALongWait(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        // No timers and no I/O: run() blocks in the selector with no timeout at all.
        let stopSent = try runUntilStoppedFromAnotherThread(loop)
        // run() returned because of that stop, not earlier.
        #expect(stopSent.isSet)
    }

    @Test(arguments: Backend.available)
    func stopFromAHandlerEndsRunAfterTheCurrentIteration(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        try withDescriptors { fds in
            let (reader, writer) = try fds.socketPair()
            var handlerRuns = 0
            // The data is never read, so the fd stays ready: a loop that went on iterating
            // after stop() would run the handler again.
            try loop.register(reader, events: .read) { _, _ in
                handlerRuns += 1
                loop.stop()
            }
            try writeAll(writer, "x")
            try runBounded(loop)
            #expect(handlerRuns == 1)
            try loop.unregister(reader)
        }
    }

    @Test(arguments: Backend.available)
    func stopFromATimerOrATaskEndsRun(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        loop.schedule(after: .milliseconds(5)) { loop.stop() }
        try runBounded(loop)
        loop.execute { loop.stop() }
        try runBounded(loop)
    }

    @Test(arguments: Backend.available)
    func stopBeforeRunMakesRunReturnAtOnce(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        var timerFired = false
        loop.schedule(after: .zero) { timerFired = true }
        loop.stop()
        try runBounded(loop)
        // Not a single iteration: the due timer is still waiting.
        #expect(loop.metrics.iterations == 0)
        #expect(!timerFired)
    }

    @Test(arguments: Backend.available)
    func runAfterAConsumedStopBlocksUntilTheNextStop(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        loop.stop()
        try runBounded(loop)
        // The first run() used up that stop; this one must wait for a new one.
        var timerFired = false
        loop.schedule(after: .milliseconds(20)) { timerFired = true }
        let stopSent = try runUntilStoppedFromAnotherThread(loop)
        #expect(stopSent.isSet)
        #expect(timerFired)
        #expect(loop.metrics.iterations >= 1)
    }

    /// Runs `loop` while another thread, 50 ms later, sets the returned flag and calls `stop()`.
    private func runUntilStoppedFromAnotherThread(_ loop: IsolatedEventLoop) throws -> SharedFlag {
        let stopSent = SharedFlag()
        let remote = loop.eventLoop
        try withThreads(1) { _ in
            sleep(for: .milliseconds(50))
            stopSent.set()
            remote.stop()
        } whileRunning: {
            try runBounded(loop)
        }
        return stopSent
    }
}
