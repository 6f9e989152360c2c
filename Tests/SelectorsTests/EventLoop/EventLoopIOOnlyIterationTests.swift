import CSelectors
import Selectors
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A running loop with no timer, no task of its own queued and no time measured runs lean
/// I/O-only iterations, whose wait has no timeout. Whatever a handler or a task starts that
/// such an iteration does not handle must end them at once: otherwise the loop would sit in a
/// wait with no timeout while a timer or a task is due (the watchdog of `runBounded` then
/// fails the test), or run a task one wait late.
@Suite struct EventLoopIOOnlyIterationTests {
    @Test(arguments: Backend.available)
    func aTimerScheduledByAHandlerFires(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
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
            try writeAll(writer, "x")
            try runBounded(loop, limit: .seconds(5))
            #expect(fired)
            try loop.unregister(reader)
        }
    }

    @Test(arguments: Backend.available)
    func aTimerScheduledByATaskFromAnotherThreadFires(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let eventLoop = loop.eventLoop
        let fired = SharedFlag()
        try withThreads(1) { _ in
            // Sent once the loop runs: its iterations are I/O-only until the task comes.
            sleep(for: .milliseconds(20))
            try? eventLoop.execute {
                let io = eventLoop.assumeIsolated()
                io.schedule(after: .milliseconds(1)) {
                    fired.set()
                    io.stop()
                }
            }
        } whileRunning: {
            try runBounded(loop, limit: .seconds(5))
        }
        #expect(fired.isSet)
    }

    @Test(arguments: Backend.available)
    func workAHandlerQueuesRunsBeforeTheNextWait(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        try withDescriptors { fds in
            let (reader, writer) = try fds.socketPair()
            var handlerIteration: UInt64?
            var taskIteration: UInt64?
            try loop.register(reader, events: .read) { fd, _ in
                _ = try? drain(fd)
                handlerIteration = loop.metrics.iterations
                loop.execute {
                    taskIteration = loop.metrics.iterations
                    loop.execute { loop.stop() }
                }
            }
            try writeAll(writer, "x")
            try runBounded(loop, limit: .seconds(5))
            // The same iteration: the task did not wait for another readiness first.
            #expect(handlerIteration != nil)
            #expect(taskIteration == handlerIteration)
            try loop.unregister(reader)
        }
    }

    @Test(arguments: Backend.available)
    func timeMeasurementSwitchedOnByAHandlerMeasuresTheNextWait(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        try withDescriptors { fds in
            let (reader, writer) = try fds.socketPair()
            var events = 0
            try loop.register(reader, events: .read) { fd, _ in
                _ = try? drain(fd)
                events += 1
                if events == 1 { loop.measuresTime = true } else { loop.stop() }
            }
            try withThreads(1) { _ in
                _ = try? writeAll(writer, "x")
                // The wait between the two events is what must be measured.
                sleep(for: .milliseconds(30))
                _ = try? writeAll(writer, "y")
            } whileRunning: {
                try runBounded(loop, limit: .seconds(5))
            }
            #expect(events == 2)
            #expect(loop.metrics.waitTime >= .milliseconds(10))
            try loop.unregister(reader)
        }
    }
}
