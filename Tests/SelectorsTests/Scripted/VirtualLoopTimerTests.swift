import Selectors
import Testing

/// The timer tests of `EventLoopTimerTests`, on virtual time: the same loop code, but every
/// instant is exact, so "never early" becomes "exactly on time" and no test sleeps. The
/// real-kernel versions stay in `EventLoopTimerTests`.
@Suite struct VirtualLoopTimerTests {
    private static func at(_ milliseconds: Int64) -> LoopInstant {
        LoopInstant(nanoseconds: 0).advanced(by: .milliseconds(milliseconds))
    }

    @Test func timersFireInDeadlineOrderAtExactlyTheirDeadlines() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var generator = SeededGenerator(seed: 0x7153_0101)
        let offsets = Array(Int64(1)...40).shuffled(using: &generator)
        var fired: [(Int64, LoopInstant)] = []
        for offset in offsets {
            test.loop.schedule(at: Self.at(offset)) { fired.append((offset, test.now)) }
        }
        try test.advance(by: .milliseconds(39))
        #expect(fired.count == 39)
        try test.advance(by: .milliseconds(1))
        #expect(fired.map(\.0) == Array(1...40))
        #expect(fired.allSatisfy { offset, time in time == Self.at(offset) })
        #expect(test.loop.pendingTimers == 0)
    }

    @Test func timersWithEqualDeadlinesFireInSchedulingOrderAmidEarlierAndLaterOnes() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        let deadline = Self.at(5)
        var fired: [Int] = []
        for index in 0..<200 {
            test.loop.schedule(at: deadline) { fired.append(index) }
            if index.isMultiple(of: 7) {
                test.loop.schedule(at: deadline.advanced(by: .milliseconds(1))) {
                    fired.append(1_000 + index)
                }
                test.loop.schedule(at: deadline.advanced(by: .milliseconds(-1))) { fired.append(-1 - index) }
            }
        }
        try test.advance(to: deadline)
        let earlier = stride(from: 0, to: 200, by: 7).map { -1 - $0 }
        #expect(fired == earlier + Array(0..<200))
        try test.advance(by: .milliseconds(1))
        #expect(fired == earlier + Array(0..<200) + stride(from: 0, to: 200, by: 7).map { 1_000 + $0 })
    }

    @Test func aTimerIsNotDueANanosecondBeforeItsDeadline() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var fired = false
        test.loop.schedule(after: .milliseconds(10)) { fired = true }
        try test.advance(to: Self.at(10).advanced(by: .nanoseconds(-1)))
        #expect(!fired)
        try test.advance(by: .nanoseconds(1))
        #expect(fired)
    }

    @Test func aTimerCancelledBeforeItsDeadlineNeverFires() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var cancelledFired = false
        var laterFired = false
        let cancelled = test.loop.schedule(after: .milliseconds(5)) { cancelledFired = true }
        cancelled.cancel()
        cancelled.cancel()
        #expect(!cancelled.isActive)
        test.loop.schedule(after: .milliseconds(20)) { laterFired = true }
        try test.advance(by: .seconds(1))
        #expect(laterFired)
        #expect(!cancelledFired)
        #expect(test.loop.pendingTimers == 0)
    }

    @Test func aTimerCancelledByAnEarlierTimerOfTheSameBatchDoesNotFire() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        let deadline = Self.at(2)
        var fired: [String] = []
        var victim: TimerHandle?
        test.loop.schedule(at: deadline) {
            fired.append("canceller")
            victim?.cancel()
        }
        victim = test.loop.schedule(at: deadline) { fired.append("victim") }
        test.loop.schedule(at: deadline) { fired.append("bystander") }
        try test.advance(to: deadline)
        #expect(fired == ["canceller", "bystander"])
        #expect(test.loop.metrics.iterations == 2)
        try test.advance(by: .seconds(1))
        #expect(fired == ["canceller", "bystander"])
    }

    @Test func aRepeatingTimerFiresOnEveryIntervalUntilItCancelsItself() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var fireTimes: [LoopInstant] = []
        var handle: TimerHandle?
        handle = test.loop.schedule(after: .milliseconds(3), repeating: .milliseconds(2)) {
            fireTimes.append(test.now)
            if fireTimes.count == 5 { handle?.cancel() }
        }
        try test.advance(by: .seconds(1))
        #expect(fireTimes == [3, 5, 7, 9, 11].map(Self.at))
        #expect(handle?.isActive == false)
        #expect(test.loop.pendingTimers == 0)
    }

    // The catch-up rule: a repeating timer is re-armed from its previous deadline, or from
    // now if it fell behind, so a late loop gets one late run instead of a burst.
    @Test func aRepeatingTimerThatFellBehindRunsOnceLateAndThenKeepsItsIntervalFromThere() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var fireTimes: [LoopInstant] = []
        let handle = test.loop.schedule(after: .seconds(1), repeating: .seconds(1)) {
            fireTimes.append(test.now)
            // The second run is slow: 3.5 s of work, past the deadlines at 3, 4 and 5 s.
            if fireTimes.count == 2 { test.spendTime(.milliseconds(3_500)) }
        }
        try test.advance(to: Self.at(8_000))
        // 2 s: re-armed for 3 s before the body ran; the body ends at 5.5 s. 5.5 s: the
        // 3 s deadline is past, so it runs once, and is re-armed from now: 6.5 s, 7.5 s.
        #expect(fireTimes == [1_000, 2_000, 5_500, 6_500, 7_500].map(Self.at))
        handle.cancel()
    }

    // A handler that takes long makes due timers late (the next iteration), never early.
    @Test func aSlowHandlerMakesATimerLateButNeverEarly() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var firedAt: LoopInstant?
        test.loop.schedule(after: .milliseconds(10)) { firedAt = test.now }
        try test.loop.register(3, events: .read) { _, _ in test.spendTime(.milliseconds(25)) }
        try test.advance(by: .milliseconds(5))
        try test.script.deliver(3, .read)
        try test.run()
        #expect(firedAt == Self.at(30))
        #expect(test.now == Self.at(30))
    }

    @Test func aSelfRearmingZeroDelayTimerCannotStarveIO() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var timerRuns = 0
        var runsWhenReadHandled: Int?
        func arm() {
            test.loop.schedule(after: .zero) {
                timerRuns += 1
                if timerRuns == 10 { try? test.script.deliver(3, .read) }
                if runsWhenReadHandled == nil { arm() }
            }
        }
        try test.loop.register(3, events: .read) { _, _ in
            if runsWhenReadHandled == nil { runsWhenReadHandled = timerRuns }
        }
        arm()
        let iterations = try test.run()
        // Timer run 10 delivered the data; the very next wait reports it, before run 11.
        #expect(runsWhenReadHandled == 10)
        #expect(timerRuns == 11)
        #expect(iterations == 11)
        #expect(test.now == LoopInstant(nanoseconds: 0))
    }

    @Test func aZeroIntervalRepeatingTimerCannotStarveIO() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var timerRuns = 0
        var runsWhenReadHandled: Int?
        var handle: TimerHandle?
        handle = test.loop.schedule(after: .zero, repeating: .zero) {
            timerRuns += 1
            if timerRuns == 10 { try? test.script.deliver(3, .read) }
        }
        try test.loop.register(3, events: .read) { _, _ in
            runsWhenReadHandled = timerRuns
            handle?.cancel()
        }
        try test.run()
        #expect(runsWhenReadHandled == 10)
        #expect(timerRuns == 10)
        #expect(test.loop.pendingTimers == 0)
    }

    // Work that re-creates itself at one instant forever ends the instant at the limit.
    @Test func aTimerThatNeverStopsRearmingEndsTheInstantAtTheIterationLimit() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        test.iterationLimit = 50
        var runs = 0
        let handle = test.loop.schedule(after: .zero, repeating: .zero) { runs += 1 }
        #expect(try test.run() == 50)
        #expect(runs == 50)
        #expect(test.hasPendingWork)
        // advance gives up on that instant too, and still reaches its target.
        try test.advance(by: .seconds(1))
        #expect(test.now == Self.at(1_000))
        handle.cancel()
        #expect(!test.hasPendingWork)
    }

    @Test func hugeDelaysSaturateInsteadOfOverflowing() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var hugeFired = 0
        var repeatingRuns = 0
        let huge = [
            test.loop.schedule(after: .seconds(Int64.max)) { hugeFired += 1 },
            test.loop.schedule(after: .nanoseconds(Int64.max)) { hugeFired += 1 },
            test.loop.schedule(after: .seconds(Int64.max) + .seconds(Int64.max)) { hugeFired += 1 },
            test.loop.schedule(at: LoopInstant(nanoseconds: Int64.max)) { hugeFired += 1 },
        ]
        // Fires once at once; its next deadline saturates.
        let repeating = test.loop.schedule(after: .zero, repeating: .seconds(Int64.max)) {
            repeatingRuns += 1
        }
        // A century of virtual time: nothing overflows, nothing huge fires.
        try test.advance(by: .seconds(100 * 365 * 86_400))
        #expect(hugeFired == 0)
        #expect(repeatingRuns == 1)
        #expect(huge.allSatisfy(\.isActive) && repeating.isActive)
        for handle in huge { handle.cancel() }
        repeating.cancel()
    }

    // Near the end of the clock's range, a delay added to now must saturate, not wrap
    // into the past (where it would fire at once).
    @Test func delaysNearTheEndOfTimeSaturateAndTheClockStopsThere() throws {
        let end = LoopInstant(nanoseconds: Int64.max)
        let test = VirtualEventLoop(startingAt: end.advanced(by: .seconds(-10)))
        defer { test.loop.close() }
        var fired: [String] = []
        test.loop.schedule(after: .seconds(5)) { fired.append("5 s") }
        test.loop.schedule(after: .seconds(20)) { fired.append("saturated") }
        let repeating = test.loop.schedule(after: .seconds(1), repeating: .seconds(7)) {
            fired.append("repeating")
        }
        try test.advance(by: .seconds(9))
        // At 1 s and 8 s after the start; from 8 s, 7 s more saturates at the end of time.
        #expect(fired == ["repeating", "5 s", "repeating"])
        #expect(repeating.isActive)
        // (A repeating timer at the end of time would be due for ever: the clock cannot move.)
        repeating.cancel()
        try test.advance(by: .seconds(Int64.max))
        #expect(test.now == end)
        #expect(fired == ["repeating", "5 s", "repeating", "saturated"])
        #expect(test.loop.pendingTimers == 0)
    }

    @Test func theSurvivorsOfMassCancellationFireInDeadlineOrder() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        let count = 100_000
        var fired: [Int] = []
        var handles: [TimerHandle] = []
        handles.reserveCapacity(count)
        for index in 0..<count {
            handles.append(test.loop.schedule(at: Self.at(1 + Int64(index % 20))) { fired.append(index) })
        }
        var generator = SeededGenerator(seed: 0x7153_0104)
        let kept = Set(stride(from: 0, to: count, by: 997))
        for index in Array(0..<count).shuffled(using: &generator) where !kept.contains(index) {
            handles[index].cancel()
        }
        #expect(test.loop.pendingTimers == kept.count)
        try test.advance(by: .seconds(1))
        #expect(fired == kept.sorted { ($0 % 20, $0) < ($1 % 20, $1) })
        #expect(test.loop.metrics.timersFired == UInt64(kept.count))
    }

    @Test func aDeadlineInThePastFiresAtTheNextRunAndTimeNeverGoesBack() throws {
        let test = VirtualEventLoop(startingAt: Self.at(1_000))
        defer { test.loop.close() }
        var fired = false
        test.loop.schedule(at: Self.at(10)) { fired = true }
        try test.advance(to: Self.at(0))
        #expect(fired)
        #expect(test.now == Self.at(1_000))
        try test.advance(by: .seconds(-5))
        #expect(test.now == Self.at(1_000))
        test.spendTime(.seconds(-5))
        #expect(test.now == Self.at(1_000))
        #expect(test.loop.now == test.now)
    }

    /// No time passes during a virtual iteration, so a zero-delay timer an I/O handler
    /// schedules is due when that iteration's timers run: it fires in that iteration, whether
    /// or not another timer was scheduled before.
    @Test(arguments: [false, true])
    func aZeroDelayTimerFromAHandlerRunsInThatIteration(unrelatedTimer: Bool) throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        let loop = test.loop
        if unrelatedTimer { loop.schedule(after: .seconds(3600)) {} }
        var fired = false
        try loop.register(5, events: .read) { _, _ in
            loop.schedule(after: .zero) { fired = true }
        }
        try test.script.deliver(5, .read)
        try loop.runOnce(timeout: .zero)
        #expect(fired, "a zero-delay timer from a handler did not run in that iteration")
    }
}
