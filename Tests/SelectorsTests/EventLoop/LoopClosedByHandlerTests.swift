import CSelectors
import Selectors
import Testing

/// A handler that closes its own loop ends `run()` quietly, as `stop()` would.
@Suite struct LoopClosedByHandlerTests {
    @Test(arguments: Backend.available)
    func closingTheLoopFromATimerEndsRunWithoutAnError(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        var fired = false
        loop.schedule(after: .milliseconds(1)) {
            fired = true
            loop.close()
        }
        // Bounded: if close did not end run(), this watchdog would.
        loop.schedule(after: .seconds(10)) { loop.stop() }
        try loop.run()
        #expect(fired)
        #expect(throws: SelectorError.self) { try loop.runOnce(timeout: .zero) }
    }
}
