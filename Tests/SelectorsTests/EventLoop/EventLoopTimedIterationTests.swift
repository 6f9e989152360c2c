import Selectors
import Testing

/// With timers scheduled (and nothing else) a running loop runs lean iterations, which learn
/// that a timer is due from the kernel's timer (armed with the earliest deadline, the wait
/// without a timeout) or, without one, by timing each wait from one clock reading per
/// iteration. Each test runs both ways. A timer scheduled or cancelled meanwhile must still be
/// honoured at once, and a timer must still fire, never early, while every wait finds
/// something ready.
@Suite struct EventLoopTimedIterationTests {
    static let timings = [true, false]

    /// A loop whose timed iterations use the kernel timer, or time their waits.
    private func makeLoop(_ backend: Backend, kernelTimer: Bool) throws -> IsolatedEventLoop {
        let loop = try EventLoop(backend: backend)
        loop.usesKernelTimer = kernelTimer
        return loop.assumeIsolated()
    }

    @Test(arguments: Backend.available, timings)
    func aTimerScheduledByAHandlerFiresBeforeALaterPendingOne(backend: Backend, kernelTimer: Bool) throws {
        let loop = try makeLoop(backend, kernelTimer: kernelTimer)
        defer { loop.close() }
        // The far timer keeps the loop in its timed iterations, whose wait lasts until it: a
        // wait timed from anything but the nearest timer would leave the loop asleep (the
        // watchdog of `runBounded` would fail the test).
        let far = loop.schedule(after: .seconds(60)) {}
        defer { far.cancel() }
        try withDescriptors { fds in
            let (reader, writer) = try fds.socketPair()
            var fired = false
            try loop.register(reader, events: .read) { fd, _ in
                _ = try? drain(fd)
                loop.schedule(after: .milliseconds(1)) {
                    fired = true
                    loop.stop()
                }
            }
            try withThreads(1) { _ in
                // Written once the loop waits for the far timer.
                sleep(for: .milliseconds(20))
                _ = try? writeAll(writer, "x")
            } whileRunning: {
                try runBounded(loop, limit: .seconds(5))
            }
            #expect(fired)
            try loop.unregister(reader)
        }
    }

    @Test(arguments: Backend.available, timings)
    func aTimerFiresWhileEveryWaitFindsSomethingReady(backend: Backend, kernelTimer: Bool) throws {
        let loop = try makeLoop(backend, kernelTimer: kernelTimer)
        defer { loop.close() }
        try withDescriptors { fds in
            let (reader, writer) = try fds.socketPair()
            var reads = 0
            try loop.register(reader, events: .read) { fd, _ in
                _ = try? drain(fd)
                reads += 1
            }
            let delay = Duration.milliseconds(30)
            let scheduled = monotonicNow()
            var elapsed: Duration?
            loop.schedule(after: delay) {
                elapsed = monotonicNow() - scheduled
                loop.stop()
            }
            let done = SharedFlag()
            try withThreads(1) { _ in
                // A byte every millisecond until the loop stops (at most 5 s): its waits end
                // with a readiness, not with the timer's timeout.
                for _ in 0..<5000 where !done.isSet {
                    _ = try? writeAll(writer, "x")
                    sleep(for: .milliseconds(1))
                }
            } whileRunning: {
                defer { done.set() }
                try runBounded(loop, limit: .seconds(5))
            }
            #expect(reads > 0)
            let fired = try #require(elapsed)
            #expect(fired >= delay, "the timer fired early")
            try loop.unregister(reader)
        }
    }

    @Test(arguments: Backend.available, timings)
    func cancellingTheLastTimerKeepsServingReadiness(backend: Backend, kernelTimer: Bool) throws {
        let loop = try makeLoop(backend, kernelTimer: kernelTimer)
        defer { loop.close() }
        var timerFired = false
        let timer = loop.schedule(after: .seconds(60)) { timerFired = true }
        try withDescriptors { fds in
            let (reader, writer) = try fds.socketPair()
            var reads = 0
            try loop.register(reader, events: .read) { fd, _ in
                _ = try? drain(fd)
                reads += 1
                if reads == 1 { timer.cancel() } else { loop.stop() }
            }
            try withThreads(1) { _ in
                _ = try? writeAll(writer, "x")
                // The second byte comes while the loop waits with no timer left.
                sleep(for: .milliseconds(30))
                _ = try? writeAll(writer, "y")
            } whileRunning: {
                try runBounded(loop, limit: .seconds(5))
            }
            #expect(reads == 2)
            // Blocked between the two bytes, not polling: a handful of iterations, where a
            // wait timed to zero would have made thousands in 30 ms.
            #expect(loop.metrics.iterations < 100)
            #expect(!timerFired)
            #expect(!timer.isActive)
            try loop.unregister(reader)
        }
    }

    @Test(arguments: Backend.available, timings)
    func aCancelledEarliestTimerDoesNotHoldBackOrHastenTheNext(backend: Backend, kernelTimer: Bool) throws {
        let loop = try makeLoop(backend, kernelTimer: kernelTimer)
        defer { loop.close() }
        let start = monotonicNow()
        var firstFired = false
        var secondFiredAfter: Duration?
        // Scheduled from a task, so the loop is already in its timed iterations (with the
        // kernel timer armed for the first) when the first is cancelled.
        var first: TimerHandle?
        loop.execute {
            first = loop.schedule(after: .milliseconds(20)) { firstFired = true }
            loop.schedule(after: .milliseconds(5)) { first?.cancel() }
            loop.schedule(after: .milliseconds(40)) {
                secondFiredAfter = monotonicNow() - start
                loop.stop()
            }
        }
        try runBounded(loop, limit: .seconds(5))
        #expect(!firstFired)
        let after = try #require(secondFiredAfter)
        #expect(after >= .milliseconds(40), "the timer fired early")
    }

    @Test func aLoopWithoutItsKernelTimerStillRunsTimers() throws {
        let loop = try makeLoop(.default, kernelTimer: true)
        defer { loop.close() }
        var fired = 0
        loop.schedule(after: .milliseconds(1)) {
            fired += 1
            // Switched off while in use: the timer goes, and the loop times its waits.
            loop.eventLoop.usesKernelTimer = false
            loop.schedule(after: .milliseconds(5)) {
                fired += 1
                loop.stop()
            }
        }
        try runBounded(loop, limit: .seconds(5))
        #expect(fired == 2)
        #expect(!loop.eventLoop.usesKernelTimer)
    }
}

// Joins the serialized descriptor-heavy suite, so that the count is not moved by tests that
// open hundreds of descriptors meanwhile (see `EventLoopDescriptorLeakTests`).
extension DescriptorHeavyTests {
    @Test(arguments: Backend.available)
    func loopsThatRanTimersLeakNoKernelTimer(backend: Backend) throws {
        let before = kernelObjectDescriptorCount()
        for index in 0..<300 {
            let loop = try EventLoop(backend: backend).assumeIsolated()
            // Due at once: the first timed iteration makes, arms and hears the kernel timer.
            loop.schedule(after: .zero) { loop.stop() }
            try runBounded(loop, limit: .seconds(5))
            // Odd loops are only released: deinit must close the timer just as well.
            if index.isMultiple(of: 2) { loop.close() }
        }
        let growth = kernelObjectDescriptorCount() - before
        #expect(growth < 100, "\(growth) more descriptors open after 300 loops")
    }
}
