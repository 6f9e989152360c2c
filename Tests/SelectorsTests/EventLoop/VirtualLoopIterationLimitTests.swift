import Selectors
import Testing

/// `VirtualEventLoop.advance(by:)`: "Moves time forward by duration, stopping at every timer
/// deadline on the way to run what is due there, in deadline order". When an instant is cut
/// off at `iterationLimit` because something keeps re-arming there (a zero-interval repeating
/// timer, which the loop supports: `aZeroIntervalRepeatingTimerCannotStarveIO`), `advance`
/// jumps straight to the target: every timer in between fires at the target instant, with
/// `now` reading the target, late by up to the whole advance.
@Suite struct VirtualLoopIterationLimitTests {
    @Test func aTimerThatReArmsAtEveryInstantDoesNotMakeOtherTimersLate() throws {
        let test = VirtualEventLoop()
        test.iterationLimit = 100
        var firedAt: LoopInstant?
        let spinner = test.loop.schedule(after: .zero, repeating: .zero) {}
        test.loop.schedule(after: .seconds(5)) { firedAt = test.now }
        try test.advance(by: .seconds(10))
        spinner.cancel()
        #expect(firedAt == LoopInstant(nanoseconds: 5_000_000_000), "fired at \(String(describing: firedAt))")
    }
}
