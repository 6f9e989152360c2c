import CSelectors
import Selectors
import Synchronization
import Testing

/// Misuse of `EventLoop`: absurd timeouts, delays and intervals, a closed loop, signal numbers. See `Misuse`.
@Suite(.timeLimit(.minutes(2)))
struct EventLoopMisuseTests {
    @Test(arguments: Backend.available)
    func aLoopTakesAbsurdTimeoutsDelaysAndIntervals(backend: Backend) throws {
        let io = try EventLoop(backend: backend).assumeIsolated()
        defer { io.close() }
        var fired = 0
        var handles: [TimerHandle] = []
        for delay in Misuse.absurdDurations {
            for interval in [
                nil, Duration.zero, .nanoseconds(-5), .seconds(Int64.min), .seconds(Int64.max) * 10,
            ] {
                handles.append(io.schedule(after: delay, repeating: interval) { fired += 1 })
            }
        }
        handles.append(io.schedule(at: LoopInstant(nanoseconds: Int64.min)) { fired += 1 })
        handles.append(io.schedule(at: LoopInstant(nanoseconds: Int64.max)) { fired += 1 })
        let start = ContinuousClock.now
        for timeout in Misuse.absurdDurations where timeout <= .nanoseconds(1) {
            try io.runOnce(timeout: timeout)
        }
        // Ready timers (zero or negative delay) and due repeating ones keep every wait short.
        try io.runOnce(timeout: .seconds(Int64.max))
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(fired > 0)
        for handle in handles { handle.cancel() }
        #expect(io.pendingTimers == 0)
        #expect(
            LoopInstant(nanoseconds: Int64.max).advanced(by: .seconds(Int64.max) * 10).nanoseconds == .max)
        #expect(
            LoopInstant(nanoseconds: Int64.min).advanced(by: .seconds(Int64.min) * 10).nanoseconds == .min)
        #expect(LoopInstant(nanoseconds: Int64.min).duration(to: LoopInstant(nanoseconds: .max)) > .zero)
    }

    @Test(arguments: Backend.available)
    func aClosedLoopRefusesWithErrorsAndIgnoresTheRest(backend: Backend) throws {
        try withDescriptors { fds in
            let (fd, _) = try fds.socketPair()
            let io = try EventLoop(backend: backend).assumeIsolated()
            let loop = io.eventLoop
            let timer = io.schedule(after: .seconds(1)) {}
            io.close()
            io.close()
            #expect(!timer.isActive)
            timer.cancel()
            expectSelectorError(.register, fd: fd, .selectorClosed) {
                try io.register(fd, events: .read) { _, _ in }
            }
            expectSelectorError(.unregister, fd: fd, .selectorClosed) { try io.unregister(fd) }
            expectSelectorError(.execute, fd: nil, .loopClosed) { try loop.execute {} }
            expectSelectorError(.run, fd: nil, .loopClosed) { try io.run() }
            expectSelectorError(.run, fd: nil, .loopClosed) { try io.runOnce(timeout: .zero) }
            #expect(!io.schedule(after: .zero) {}.isActive)
            #expect(!loop.schedule(after: .zero) {}.isActive)
            io.execute {}
            io.stop()
            io.wakeUp()
            io.removeSignalHandlers(SIGUSR1)
            #expect(io.isClosed)
        }
    }

    @Test(arguments: Backend.available)
    func signalNumbersOutOfRangeOrUncatchableThrow(backend: Backend) throws {
        let io = try EventLoop(backend: backend).assumeIsolated()
        defer { io.close() }
        for signal in [Int32.min, -1, 0, 65, 1000, Int32.max] {
            let error = selectorError { try io.onSignal(signal) {} }
            expectInvalidArgument(error, .onSignal, fd: nil, mentioning: "not a signal number")
            io.removeSignalHandlers(signal)
        }
        for signal in [SIGKILL, SIGSTOP] {
            let error = selectorError { try io.onSignal(signal) {} }
            #expect(
                error == SelectorError(.onSignal, fd: nil, .system(.invalidArgument)),
                "\(String(describing: error))")
            io.removeSignalHandlers(signal)
        }
        try io.runOnce(timeout: .zero)
    }

    /// The C handler forwards a signal to at most 16 loops: the 17th is refused with a reason
    /// that says so (it once got a bare `EINVAL`), and a place freed by a closing loop is taken
    /// again. `SIGURG`: ignored by default, and no other test watches it.
    @Test func atMostSixteenLoopsWatchOneSignal() throws {
        var loops = try (0..<16).map { _ in try EventLoop().assumeIsolated() }
        defer { for io in loops { io.close() } }
        for io in loops { try io.onSignal(SIGURG) {} }
        let extra = try EventLoop().assumeIsolated()
        defer { extra.close() }
        let error = selectorError { try extra.onSignal(SIGURG) {} }
        expectInvalidArgument(error, .onSignal, fd: nil, mentioning: "16 loops")
        loops.removeLast().close()
        try extra.onSignal(SIGURG) {}
        try loops[0].onSignal(SIGURG) {}  // a second handler on a loop already watching
    }
}
