import Selectors
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `eventsDispatched` read by a handler during the loop's first batch, after the waker's own
/// event: the batch is counted when it ends, so the handler sees what came before it, never
/// a count made lower by the loop's own events (a version that subtracted them mid-batch read
/// 2^64 - 1 here).
@Suite struct MetricsWrapTests {
    @Test(arguments: Backend.available)
    func metricsReadInAHandlerAfterTheWakerNeverWrap(backend: Backend) throws {
        let loop = try EventLoop(backend: backend)
        let io = loop.assumeIsolated()
        defer { io.close() }
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { for fd in fds { close(fd) } }
        var seen: UInt64?
        try io.register(fds[0], events: .read) { _, _ in
            seen = io.metrics.eventsDispatched
            io.stop()
        }
        // The waker first (another thread's `execute`), then the user's fd: one batch, the
        // waker's event ahead of the pipe's.
        withThreads(1, { _ in try? loop.execute {} }, whileRunning: {})
        var byte: UInt8 = 1
        #expect(write(fds[1], &byte, 1) == 1)
        io.schedule(after: .seconds(5)) { io.stop() }  // a safety net
        try io.run()
        _ = try? io.unregister(fds[0])
        #expect(seen != nil)
        #expect((seen ?? 0) <= 1, "eventsDispatched read in a handler: \(seen.map(String.init) ?? "nil")")
    }
}
