import Selectors
import Testing

/// With timers scheduled (and nothing else) a running loop runs lean iterations that read the
/// clock once per wait, when it ends, and time the next wait from that reading. A timer
/// scheduled or cancelled meanwhile must still be honoured at once, and a timer must still
/// fire, never early, while every wait finds something ready.
@Suite struct EventLoopTimedIterationTests {
    @Test(arguments: Backend.available)
    func aTimerScheduledByAHandlerFiresBeforeALaterPendingOne(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
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

    @Test(arguments: Backend.available)
    func aTimerFiresWhileEveryWaitFindsSomethingReady(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
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

    @Test(arguments: Backend.available)
    func cancellingTheLastTimerKeepsServingReadiness(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
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
}
