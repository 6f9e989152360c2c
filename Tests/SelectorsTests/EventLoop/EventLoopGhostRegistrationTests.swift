import CSelectors
import Selectors
import Testing

/// The ghost registration (see `GhostRegistrationTests`) seen from an event loop: every wait
/// used to return at once, so an idle loop iterated 80,000 times in 0.2 s at 100% CPU.
@Suite struct EventLoopGhostRegistrationTests {
    @Test(arguments: Backend.available)
    func loopWithTheGhostOfADupedDescriptorDoesNotSpin(backend: Backend) throws {
        try withDescriptors { fds in
            let (ghost, ghostPeer) = try fds.socketPair()
            try writeAll(ghostPeer, "x")
            _ = try fds.duplicate(ghost, atLeast: 0)
            try expectIdleLoopDoesNotSpin(backend: backend, ghost: ghost) { fds.close(ghost) }
        }
    }

    @Test(arguments: Backend.available)
    func loopWithTheGhostOfADescriptorHeldByAForkedChildDoesNotSpin(backend: Backend) throws {
        try withDescriptors { fds in
            let (ghost, ghostPeer) = try fds.socketPair()
            try writeAll(ghostPeer, "x")
            try withForkedChildHolding(ghost) {
                try expectIdleLoopDoesNotSpin(backend: backend, ghost: ghost) { fds.close(ghost) }
            }
        }
    }

    /// Registers `ghost` on a new loop, closes it with `close`, unregisters it, then runs the
    /// loop until a timer stops it and checks that it mostly waited.
    private func expectIdleLoopDoesNotSpin(
        backend: Backend, ghost: Int32, sourceLocation: SourceLocation = #_sourceLocation,
        close: () -> Void
    ) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        var handlerRuns = 0
        try loop.register(ghost, events: .all) { _, _ in handlerRuns += 1 }
        close()
        try loop.unregister(ghost)
        let period = Duration.milliseconds(200)
        loop.schedule(after: period) { loop.stop() }
        let iterationsBefore = loop.metrics.iterations
        let cpuBefore = threadCPUTime()
        try runBounded(loop, sourceLocation: sourceLocation)
        let cpu = threadCPUTime() - cpuBefore
        let iterations = loop.metrics.iterations - iterationsBefore
        #expect(handlerRuns == 0, sourceLocation: sourceLocation)
        // An idle loop waits for its timer: an iteration or two. The bound is generous.
        #expect(iterations <= 20, "\(iterations) iterations in \(period)", sourceLocation: sourceLocation)
        #expect(cpu < period / 2, "used \(cpu) of CPU in \(period)", sourceLocation: sourceLocation)
    }
}
