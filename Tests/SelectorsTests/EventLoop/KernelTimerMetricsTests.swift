import Selectors
import Testing

/// `EventLoopMetrics.eventsDispatched` counts the loop's own handlers too, as documented: a
/// loop that only runs timers counts at most one event per kernel-timer expiry (its timerfd),
/// and none when it times its waits instead.
@Suite struct KernelTimerMetricsTests {
    @Test(arguments: Backend.available, [true, false])
    func timersAloneDispatchOnlyTheKernelTimersEvents(backend: Backend, kernelTimer: Bool) throws {
        let loop = try EventLoop(backend: backend)
        loop.usesKernelTimer = kernelTimer
        let io = loop.assumeIsolated()
        defer { io.close() }
        var fired = 0
        for index in 1...10 {
            io.schedule(after: .milliseconds(Int64(index) * 2)) {
                fired += 1
                if fired == 10 { io.stop() }
            }
        }
        io.schedule(after: .seconds(10)) { io.stop() }  // a safety net
        try io.run()
        #expect(io.metrics.timersFired == 10)
        if kernelTimer {
            #expect(io.metrics.eventsDispatched <= 10, "\(io.metrics)")
        } else {
            #expect(io.metrics.eventsDispatched == 0, "\(io.metrics)")
        }
    }
}
