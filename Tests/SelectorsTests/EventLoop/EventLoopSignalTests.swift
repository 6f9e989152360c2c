import CSelectors
import Selectors
import Testing

/// Signal handlers of the event loop.
///
/// Serialized, and the only tests that touch `SIGUSR1` and `SIGUSR2`: a disposition is
/// process-wide, so two of these running at once would swap handlers under each other.
/// Counts are checked as "at least", because a process-directed signal reaches every loop
/// watching it. Each test installs the counting test handlers first, so whatever a loop
/// restores is harmless (never the default action, which would end the test process).
@Suite(.serialized) struct EventLoopSignalTests {
    init() { TestSignalHandlers.install() }

    @Test(arguments: Backend.available)
    func aRaisedSignalRunsItsHandlerOnTheLoopThread(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let loopThread = ThreadIdentity.current
        var runs = 0
        var offLoopThread = 0
        try loop.onSignal(SIGUSR1) {
            runs += 1
            if !ThreadIdentity.current.isSame(as: loopThread) { offLoopThread += 1 }
        }
        try withSignals([SIGUSR1], unblocking: true) {
            // To this thread only.
            raise(SIGUSR1)
            try runOnceUntil(loop) { runs >= 1 }
            // To the process: whichever thread takes it, the handler runs here.
            kill(getpid(), SIGUSR1)
            try runOnceUntil(loop) { runs >= 2 }
        }
        #expect(offLoopThread == 0)
    }

    @Test(arguments: Backend.available)
    func pthreadKillFromAnotherThreadWakesARunBlockedInItsWait(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let loopThread = ThreadIdentity.current
        var runs = 0
        var offLoopThread = 0
        try loop.onSignal(SIGUSR1) {
            runs += 1
            if !ThreadIdentity.current.isSame(as: loopThread) { offLoopThread += 1 }
            loop.stop()
        }
        // No timers, no other I/O: only the signal can end this run() (or the watchdog).
        try withSignals([SIGUSR1], unblocking: true) {
            try withThreads(1) { _ in
                sleep(for: .milliseconds(30))
                _ = pthread_kill(loopThread.thread, SIGUSR1)
            } whileRunning: {
                try runBounded(loop)
            }
        }
        #expect(runs >= 1)
        #expect(offLoopThread == 0)
    }

    @Test(arguments: Backend.available)
    func everyHandlerOfASignalRunsOnOneLoopAndOnSeveral(backend: Backend) throws {
        let first = try EventLoop(backend: backend).assumeIsolated()
        defer { first.close() }
        let second = try EventLoop(backend: backend).assumeIsolated()
        defer { second.close() }
        var runs = [0, 0, 0]
        try first.onSignal(SIGUSR2) { runs[0] += 1 }
        try first.onSignal(SIGUSR2) { runs[1] += 1 }
        try second.onSignal(SIGUSR2) { runs[2] += 1 }
        try withSignals([SIGUSR2], unblocking: true) {
            raise(SIGUSR2)
            try runOnceUntil(first) { runs[0] >= 1 && runs[1] >= 1 }
            try runOnceUntil(second) { runs[2] >= 1 }
        }
        #expect(runs.allSatisfy { $0 >= 1 }, "\(runs)")
    }

    @Test(arguments: Backend.available)
    func signalsReachTheLoopWhenOtherThreadsTakeThem(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let loopThread = ThreadIdentity.current
        var runs = 0
        var offLoopThread = 0
        try loop.onSignal(SIGUSR1) {
            runs += 1
            if !ThreadIdentity.current.isSame(as: loopThread) { offLoopThread += 1 }
        }
        let idleThreads = Shared<[ThreadIdentity]>([])
        let (quitReader, quitWriter) = try closeOnExecPipe()
        defer {
            _ = close(quitReader)
            _ = close(quitWriter)
        }
        // The loop thread blocks the signal, so the kernel must hand it to another thread;
        // the C handler then runs there and the loop hears of it through its pipe.
        try withSignals([SIGUSR1], unblocking: false) {
            try withThreads(2) { _ in
                withSignals([SIGUSR1], unblocking: true) {
                    idleThreads.withLock { $0.append(.current) }
                    // Idle until told to quit; the signals interrupt this wait and it resumes.
                    _ = waitReadable(quitReader, limit: .seconds(30))
                }
            } whileRunning: {
                defer {
                    var byte: UInt8 = 1
                    _ = write(quitWriter, &byte, 1)
                }
                guard eventually({ idleThreads.value.count == 2 }) else { return }
                kill(getpid(), SIGUSR1)
                try runOnceUntil(loop) { runs >= 1 }
                for (index, idle) in idleThreads.value.enumerated() {
                    _ = pthread_kill(idle.thread, SIGUSR1)
                    try runOnceUntil(loop) { runs >= 2 + index }
                }
            }
        }
        #expect(runs >= 3)
        #expect(offLoopThread == 0)
    }

    @Test(arguments: Backend.available)
    func removingTheHandlersOrClosingTheLoopRestoresThePreviousDisposition(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        var runs = 0
        try withSignals([SIGUSR2], unblocking: true) {
            // The test's own counting handler is installed; the loop's goes on top of it.
            try loop.onSignal(SIGUSR2) { runs += 1 }
            raise(SIGUSR2)
            try runOnceUntil(loop) { runs >= 1 }

            loop.removeSignalHandlers(SIGUSR2)
            var own = TestSignalHandlers.deliveries(of: SIGUSR2)
            raise(SIGUSR2)
            eventually { TestSignalHandlers.deliveries(of: SIGUSR2) >= own + 1 }
            let runsAfterRemoval = runs
            for _ in 0..<3 { try loop.runOnce(timeout: .milliseconds(5)) }
            #expect(runs == runsAfterRemoval, "a removed handler ran")

            // Watching again works, and closing the loop restores the disposition as well.
            try loop.onSignal(SIGUSR2) { runs += 1 }
            raise(SIGUSR2)
            try runOnceUntil(loop) { runs > runsAfterRemoval }
            loop.close()
            own = TestSignalHandlers.deliveries(of: SIGUSR2)
            raise(SIGUSR2)
            eventually { TestSignalHandlers.deliveries(of: SIGUSR2) >= own + 1 }
        }
    }

    @Test(arguments: Backend.available)
    func signalsTheKernelWillNotRouteAreRefusedAndLeaveNothingBehind(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        for signal in [0, -1, 65, SIGKILL, SIGSTOP] {
            let error = selectorError { try loop.onSignal(signal) {} }
            #expect(error?.operation == .onSignal, "signal \(signal)")
        }
        // The refusals left the loop able to watch a real signal.
        var runs = 0
        try loop.onSignal(SIGUSR1) { runs += 1 }
        try withSignals([SIGUSR1], unblocking: true) {
            raise(SIGUSR1)
            try runOnceUntil(loop) { runs >= 1 }
        }
    }

    @Test(arguments: Backend.available)
    func sixteenLoopsMayWatchOneSignalAndASeventeenthIsRefusedCleanly(backend: Backend) throws {
        // The C forwarder has a fixed table of 16 pipes per signal (a signal handler cannot
        // allocate); the limit must fail with an error, and free up when a loop closes.
        var loops: [IsolatedEventLoop] = []
        defer { for loop in loops { loop.close() } }
        var runs = Array(repeating: 0, count: 17)
        for index in 0..<16 {
            let loop = try EventLoop(backend: backend).assumeIsolated()
            loops.append(loop)
            try loop.onSignal(SIGUSR2) { runs[index] += 1 }
        }
        let extra = try EventLoop(backend: backend).assumeIsolated()
        defer { extra.close() }
        #expect(throws: SelectorError.self) { try extra.onSignal(SIGUSR2) { runs[16] += 1 } }
        loops.removeFirst().close()
        try extra.onSignal(SIGUSR2) { runs[16] += 1 }
        loops.append(extra)
        try withSignals([SIGUSR2], unblocking: true) {
            raise(SIGUSR2)
            for (offset, loop) in loops.enumerated() {
                try runOnceUntil(loop) { runs[offset + 1] >= 1 }
            }
        }
        #expect(runs[0] == 0, "a closed loop's handler ran")
    }

    @Test(arguments: Backend.available)
    func loopsWatchingSignalsLeakNoDescriptorAndRestoreTheDisposition(backend: Backend) async throws {
        // Under the lock the descriptor-hungry tests take, and counting only the kinds a
        // loop makes (its signal pipe, its selector and waker): tests running alongside
        // open sockets by the thousand (2,315 once, under load). A leak of the two pipe ends
        // per loop moves the count by 2,000.
        let loopKinds = ["pipe:", "anon_inode:"]
        try await FixedDescriptorNumbers.exclusively {
            let before = descriptorCount(ofKinds: loopKinds)
            for index in 0..<1_000 {
                let loop = try EventLoop(backend: backend).assumeIsolated()
                try loop.onSignal(SIGUSR2) {}
                try loop.onSignal(SIGUSR1) {}
                if index.isMultiple(of: 2) { loop.close() }
                // Odd loops are only released: deinit must give the signals back too.
            }
            let growth = descriptorCount(ofKinds: loopKinds) - before
            #expect(growth < 500, "\(growth) more descriptors open after 1,000 loops")
        }
        // Every loop let go of SIGUSR2, so the test's own handler is back.
        let own = TestSignalHandlers.deliveries(of: SIGUSR2)
        withSignals([SIGUSR2], unblocking: true) { _ = raise(SIGUSR2) }
        eventually { TestSignalHandlers.deliveries(of: SIGUSR2) >= own + 1 }
    }
}
