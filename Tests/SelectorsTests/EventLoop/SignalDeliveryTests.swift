import CSelectors
import Selectors
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Signal delivery through the loop's self-pipe. Uses SIGCONT and SIGCHLD, whose default
/// actions do nothing to a running process (a stray delivery after a loop restored the
/// disposition cannot end the test process), and which no other suite watches: the suites
/// run in parallel, and SIGWINCH and SIGURG are other suites'. A child another suite reaps
/// may add a SIGCHLD, so that one is counted as at least once.
@Suite(.serialized) struct SignalDeliveryTests {
    /// `SignalWatcher`: "Signals arriving while the pipe is full are coalesced, as the kernel
    /// coalesces pending signals anyway". The kernel coalesces per signal; the pipe does not:
    /// once a flood of one signal filled it (64 KiB of bytes while the loop was busy), the
    /// byte of any other signal is dropped and its handlers never run (a SIGTERM lost behind
    /// a burst of SIGCHLD, say).
    @Test(arguments: Backend.available)
    func aFloodOfOneSignalDoesNotLoseAnother(backend: Backend) throws {
        let io = try EventLoop(backend: backend).assumeIsolated()
        defer { io.close() }
        var floods = 0
        var others = 0
        try io.onSignal(SIGCONT) { floods += 1 }
        try io.onSignal(SIGCHLD) { others += 1 }
        withSignals([SIGCONT, SIGCHLD], unblocking: true) {
            // More deliveries than the pipe holds, while the loop does not run.
            for _ in 0..<70_000 { raise(SIGCONT) }
            raise(SIGCHLD)
        }
        try runOnceUntil(io, limit: .seconds(5)) { floods > 0 }
        for _ in 0..<5 { try io.runOnce(timeout: .milliseconds(10)) }
        #expect(floods > 0)
        #expect(others >= 1, "SIGCHLD's handler never ran: its byte was dropped by the full pipe")
        io.removeSignalHandlers(SIGCONT)
        io.removeSignalHandlers(SIGCHLD)
    }

    /// `removeSignalHandlers` "removes every handler this loop has for signal", and `close()`
    /// ends the loop; but `dispatchPending` iterates a copy of the handlers taken before the
    /// first one ran, so a handler removed (or a loop closed) by an earlier handler of the
    /// same delivery still runs. I/O handlers removed during a dispatch do not run.
    @Test(arguments: Backend.available)
    func aHandlerRemovedOrALoopClosedByAnEarlierHandlerDoesNotRun(backend: Backend) throws {
        let io = try EventLoop(backend: backend).assumeIsolated()
        defer { io.close() }
        var removedRuns = 0
        try io.onSignal(SIGCONT) { io.removeSignalHandlers(SIGCONT) }
        try io.onSignal(SIGCONT) { removedRuns += 1 }
        withSignals([SIGCONT], unblocking: true) { _ = raise(SIGCONT) }
        for _ in 0..<3 { try io.runOnce(timeout: .milliseconds(20)) }
        #expect(removedRuns == 0, "a handler ran after removeSignalHandlers removed it")

        let closing = try EventLoop(backend: backend).assumeIsolated()
        var runsOnClosedLoop = 0
        try closing.onSignal(SIGCONT) { closing.close() }
        try closing.onSignal(SIGCONT) { if closing.isClosed { runsOnClosedLoop += 1 } }
        withSignals([SIGCONT], unblocking: true) { _ = raise(SIGCONT) }
        try runOnceUntil(closing, limit: .seconds(5)) { closing.isClosed }
        #expect(runsOnClosedLoop == 0, "a signal handler ran after an earlier one closed its loop")
    }
}
