import Selectors
import Testing

/// Guards against timers keeping what they capture alive after they can no longer fire: the
/// common self-cancelling timer captures its own handle, which holds the timer, which holds
/// the body; the loop must break that cycle when the timer is done.
@Suite struct EventLoopTimerReleaseTests {
    private final class Token {}

    @Test(arguments: Backend.available)
    func aRepeatingTimerThatCancelsItselfReleasesItsCaptures(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        weak var released: Token?
        do {
            let token = Token()
            released = token
            var handle: TimerHandle?
            var fired = 0
            handle = loop.schedule(after: .zero, repeating: .milliseconds(1)) {
                withExtendedLifetime(token) { fired += 1 }
                if fired == 3 { handle?.cancel() }
            }
            for _ in 0..<500 where handle?.isActive == true {
                try loop.runOnce(timeout: .milliseconds(10))
            }
            #expect(fired == 3)
            #expect(handle?.isActive == false)
        }
        #expect(released == nil, "the cancelled timer's body, and what it captured, were freed")
    }

    @Test(arguments: Backend.available)
    func aFiredOneShotTimerAndTimersPendingAtCloseReleaseTheirCaptures(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        weak var firedToken: Token?
        weak var pendingToken: Token?
        do {
            let fired = Token()
            let pending = Token()
            firedToken = fired
            pendingToken = pending
            var oneShot: TimerHandle?
            var later: TimerHandle?
            oneShot = loop.schedule(after: .zero) { withExtendedLifetime((fired, oneShot)) {} }
            later = loop.schedule(after: .seconds(3600)) { withExtendedLifetime((pending, later)) {} }
            for _ in 0..<100 where oneShot?.isActive == true {
                try loop.runOnce(timeout: .milliseconds(10))
            }
            #expect(oneShot?.isActive == false)
            loop.close()
        }
        #expect(firedToken == nil)
        #expect(pendingToken == nil)
    }
}
