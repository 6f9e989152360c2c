import CSelectors
import Selectors
import Testing

/// The loop's counters: each kind of work is counted where it happens, and waiting shows up
/// as wait time.
@Suite struct EventLoopMetricsTests {
    @Test(arguments: Backend.available)
    func iterationsEventsTimersAndTasksAreCounted(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let initial = loop.metrics
        #expect(initial.iterations == 0 && initial.eventsDispatched == 0)
        #expect(initial.timersFired == 0 && initial.tasksRun == 0)
        #expect(initial.waitTime == .zero && initial.workTime == .zero)
        try withDescriptors { fds in
            let (reader, writer) = try fds.socketPair()
            try loop.register(reader, events: .read) { fd, _ in _ = try? readAvailable(fd) }

            // An idle iteration counts as an iteration and nothing else.
            try loop.runOnce(timeout: .zero)
            var metrics = loop.metrics
            #expect(metrics.iterations == 1)
            #expect(metrics.eventsDispatched == 0)
            #expect(metrics.timersFired == 0)
            #expect(metrics.tasksRun == 0)

            // One ready fd: one dispatched event.
            try writeAll(writer, "x")
            try loop.runOnce(timeout: .seconds(1))
            metrics = loop.metrics
            #expect(metrics.iterations == 2)
            #expect(metrics.eventsDispatched == 1)

            // Two timers already due: both fire in this iteration, without waiting.
            loop.schedule(after: .zero) {}
            loop.schedule(after: .seconds(-1)) {}
            try loop.runOnce(timeout: .seconds(1))
            metrics = loop.metrics
            #expect(metrics.iterations == 3)
            #expect(metrics.timersFired == 2)

            // Three tasks: counted as tasks. Their wake-up is the loop's own fd, so it may
            // count as an event as well; a handler's event count is not asserted here.
            for _ in 0..<3 { loop.execute {} }
            try loop.runOnce(timeout: .seconds(1))
            metrics = loop.metrics
            #expect(metrics.iterations == 4)
            #expect(metrics.tasksRun == 3)
            #expect(metrics.timersFired == 2)

            // A repeating timer counts each run.
            var runs = 0
            var handle: TimerHandle?
            handle = loop.schedule(after: .zero, repeating: .milliseconds(1)) {
                runs += 1
                if runs == 3 { handle?.cancel() }
            }
            try runOnceUntil(loop) { runs == 3 }
            #expect(loop.metrics.timersFired == 5)
            #expect(loop.metrics.description.contains("timers=5"))
            try loop.unregister(reader)
        }
    }

    @Test(arguments: Backend.available)
    func waitTimeGrowsByAtLeastTheTimeSpentWaiting(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        loop.measuresTime = true
        let before = loop.metrics
        // Nothing to do: the selector waits out the whole timeout, and it never returns
        // early, so at least that much is wait time.
        try loop.runOnce(timeout: .milliseconds(20))
        let after = loop.metrics
        #expect(after.waitTime - before.waitTime >= .milliseconds(20))
        #expect(after.workTime >= before.workTime)
    }

    @Test(arguments: Backend.available)
    func timeIsNotMeasuredUnlessAskedFor(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        try loop.runOnce(timeout: .milliseconds(5))
        #expect(loop.metrics.iterations == 1)
        #expect(loop.metrics.waitTime == .zero && loop.metrics.workTime == .zero)
    }
}
