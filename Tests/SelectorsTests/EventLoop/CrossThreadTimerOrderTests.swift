import Selectors
import Testing

/// `IsolatedEventLoop.schedule`: "Timers due at the same instant fire in the order they were
/// scheduled", and `EventLoop.schedule` (any thread) follows "the rules" of that one. A timer
/// scheduled from another thread takes its place among equal deadlines (its sequence number)
/// only when its insertion task runs on the loop, after that iteration's handlers and timers;
/// so it fires after a timer for the same deadline that the loop thread scheduled later.
@Suite struct CrossThreadTimerOrderTests {
    @Test(arguments: Backend.available)
    func equalDeadlinesFireInSchedulingOrderAcrossThreads(backend: Backend) throws {
        let io = try EventLoop(backend: backend).assumeIsolated()
        defer { io.close() }
        let loop = io.eventLoop
        let order = Shared<[String]>([])
        let deadline = io.now.advanced(by: .milliseconds(20))
        // First: from another thread, joined before the loop thread goes on.
        withThreads(1) { _ in
            loop.schedule(at: deadline) { order.withLock { $0.append("first, other thread") } }
        } whileRunning: {
        }
        // Second: on the loop thread, after the first one (the join orders them).
        io.schedule(at: deadline) { order.withLock { $0.append("second, loop thread") } }
        try runOnceUntil(io, limit: .seconds(5)) { order.value.count == 2 }
        #expect(order.value == ["first, other thread", "second, loop thread"])
    }
}
