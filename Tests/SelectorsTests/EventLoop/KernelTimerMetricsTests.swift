import Selectors
import Testing

/// `EventLoopMetrics.eventsDispatched` is "I/O handler invocations". A loop with no
/// registration of the user's that only runs timers counts one event per kernel-timer
/// expiry (the loop's own timerfd handler), and none when it times its waits instead: the
/// metric depends on how the loop learns that a timer is due.
@Suite struct KernelTimerMetricsTests {
    @Test(arguments: Backend.available, [true, false])
    func timersAloneDispatchNoEvents(backend: Backend, kernelTimer: Bool) throws {
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
        #expect(io.metrics.eventsDispatched == 0, "\(io.metrics)")
    }
}
