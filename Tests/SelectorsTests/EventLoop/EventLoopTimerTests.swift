import CSelectors
import Selectors
import Testing

/// Timers: ordering, ties, cancellation, repetition, never firing early, fairness towards I/O,
/// and extreme delays and counts.
@Suite struct EventLoopTimerTests {
    @Test(arguments: Backend.available)
    func timersFireInDeadlineOrderWhateverTheSchedulingOrder(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        var generator = SeededGenerator(seed: 0x7153_0001)
        // Explicit deadlines from one base, so the expected order does not depend on how
        // long the scheduling calls themselves took.
        let base = LoopInstant.now
        let offsets = Array(0..<40).shuffled(using: &generator)
        var fired: [Int] = []
        for offset in offsets {
            loop.schedule(at: base.advanced(by: .milliseconds(offset))) { fired.append(offset) }
        }
        try runOnceUntil(loop) { fired.count == offsets.count }
        #expect(fired == Array(0..<40))
    }

    @Test(arguments: Backend.available)
    func timersWithEqualDeadlinesFireInSchedulingOrder(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let deadline = LoopInstant.now.advanced(by: .milliseconds(5))
        var fired: [Int] = []
        // Interleave an earlier and a later deadline, so the ties sit amid heap reshuffles.
        for index in 0..<200 {
            loop.schedule(at: deadline) { fired.append(index) }
            if index.isMultiple(of: 7) {
                loop.schedule(at: deadline.advanced(by: .milliseconds(1))) { fired.append(1_000 + index) }
                loop.schedule(at: deadline.advanced(by: .milliseconds(-1))) { fired.append(-1 - index) }
            }
        }
        try runOnceUntil(loop) { loop.pendingTimers == 0 }
        let ties = fired.filter { (0..<200).contains($0) }
        #expect(ties == Array(0..<200))
        // And every earlier timer before every tie, every later one after.
        let firstTie = try #require(fired.firstIndex(of: 0))
        let lastTie = try #require(fired.firstIndex(of: 199))
        #expect(fired[..<firstTie].allSatisfy { $0 < 0 })
        #expect(fired[(lastTie + 1)...].allSatisfy { $0 >= 1_000 })
    }

    @Test(arguments: Backend.available)
    func aTimerCancelledBeforeItsDeadlineNeverFires(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        var cancelledFired = false
        var laterFired = false
        let cancelled = loop.schedule(after: .milliseconds(5)) { cancelledFired = true }
        #expect(cancelled.isActive)
        cancelled.cancel()
        #expect(!cancelled.isActive)
        #expect(loop.pendingTimers == 0)
        // Cancelling again is harmless.
        cancelled.cancel()
        loop.schedule(after: .milliseconds(20)) { laterFired = true }
        try runOnceUntil(loop) { laterFired }
        // A few more iterations past the cancelled deadline, in case it fires late.
        for _ in 0..<3 { try loop.runOnce(timeout: .milliseconds(5)) }
        #expect(!cancelledFired)
    }

    @Test(arguments: Backend.available)
    func aTimerCancelledByAnotherTimerOfTheSameBatchDoesNotFire(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        // All three are due at the same instant, so one iteration runs them as one batch;
        // the first cancels the second, which is already due but must not run.
        let deadline = LoopInstant.now.advanced(by: .milliseconds(2))
        var fired: [String] = []
        var victim: TimerHandle?
        loop.schedule(at: deadline) {
            fired.append("canceller")
            victim?.cancel()
        }
        victim = loop.schedule(at: deadline) { fired.append("victim") }
        loop.schedule(at: deadline) { fired.append("bystander") }
        // Wait past the deadline first so the single iteration below sees all three due.
        sleep(for: .milliseconds(5))
        try loop.runOnce(timeout: .seconds(1))
        #expect(fired == ["canceller", "bystander"])
        #expect(victim?.isActive == false)
        for _ in 0..<3 { try loop.runOnce(timeout: .milliseconds(5)) }
        #expect(fired == ["canceller", "bystander"])
        #expect(loop.pendingTimers == 0)
    }

    @Test(arguments: Backend.available)
    func aRepeatingTimerFiresUntilItCancelsItselfAndNeverEarly(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let delay = Duration.milliseconds(3)
        let interval = Duration.milliseconds(2)
        let start = LoopInstant.now
        var fireTimes: [LoopInstant] = []
        var handle: TimerHandle?
        handle = loop.schedule(after: delay, repeating: interval) {
            fireTimes.append(.now)
            if fireTimes.count == 5 { handle?.cancel() }
        }
        #expect(loop.pendingTimers == 1)
        try runOnceUntil(loop) { fireTimes.count >= 5 }
        for _ in 0..<5 { try loop.runOnce(timeout: .milliseconds(5)) }
        #expect(fireTimes.count == 5)
        #expect(handle?.isActive == false)
        #expect(loop.pendingTimers == 0)
        // Each deadline is at least the previous one plus the interval, so run k (from 0)
        // cannot come before start + delay + k * interval.
        for (index, time) in fireTimes.enumerated() {
            let earliest = start.advanced(by: delay + interval * index)
            #expect(time >= earliest, "run \(index) at \(time), earliest \(earliest)")
        }
    }

    @Test(arguments: Backend.available)
    func timersNeverFireBeforeTheirDeadlineOnTheMonotonicClock(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        var generator = SeededGenerator(seed: 0x7153_0002)
        let count = 500
        var fired = 0
        var early: [String] = []
        for index in 0..<count {
            let delay = Duration.microseconds(Int64.random(in: 0...30_000, using: &generator))
            if index.isMultiple(of: 2) {
                let deadline = LoopInstant.now.advanced(by: delay)
                loop.schedule(at: deadline) {
                    fired += 1
                    let now = LoopInstant.now
                    if now < deadline { early.append("#\(index) at \(now), due \(deadline)") }
                }
            } else {
                // The loop reads the clock inside schedule(after:), so its deadline is at or
                // after this one.
                let earliest = LoopInstant.now.advanced(by: delay)
                loop.schedule(after: delay) {
                    fired += 1
                    let now = LoopInstant.now
                    if now < earliest { early.append("#\(index) at \(now), due \(earliest)") }
                }
            }
        }
        try runOnceUntil(loop, step: .milliseconds(50)) { fired == count }
        #expect(early.count == 0, "first early ones: \(early.prefix(5))")
        #expect(loop.pendingTimers == 0)
    }

    @Test(arguments: Backend.available)
    func aSelfRearmingZeroDelayTimerCannotStarveIO(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        try withDescriptors { fds in
            let (reader, writer) = try fds.socketPair()
            var timerRuns = 0
            var runsWhenReadHandled: Int?
            // If the loop kept running re-armed timers inside one batch, run() would never
            // poll again and even the watchdog could not stop it; the cap ends the test.
            let cap = 100_000
            func arm() {
                loop.schedule(after: .zero) {
                    timerRuns += 1
                    if timerRuns == 10 { try? writeAll(writer, "ping") }
                    if runsWhenReadHandled == nil && timerRuns < cap { arm() }
                }
            }
            try loop.register(reader, events: .read) { fd, _ in
                _ = try? readAvailable(fd)
                if runsWhenReadHandled == nil { runsWhenReadHandled = timerRuns }
                loop.stop()
            }
            arm()
            try runBounded(loop)
            // The data arrived during timer run 10; the very next poll must see it.
            let runs = try #require(runsWhenReadHandled, "the read handler never ran")
            #expect(runs <= 11)
            try loop.unregister(reader)
        }
    }

    @Test(arguments: Backend.available)
    func aZeroIntervalRepeatingTimerCannotStarveIO(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        try withDescriptors { fds in
            let (reader, writer) = try fds.socketPair()
            var timerRuns = 0
            var runsWhenReadHandled: Int?
            var handle: TimerHandle?
            handle = loop.schedule(after: .zero, repeating: .zero) {
                timerRuns += 1
                if timerRuns == 10 { try? writeAll(writer, "ping") }
                if timerRuns >= 100_000 { handle?.cancel() }
            }
            try loop.register(reader, events: .read) { fd, _ in
                _ = try? readAvailable(fd)
                if runsWhenReadHandled == nil { runsWhenReadHandled = timerRuns }
                handle?.cancel()
                loop.stop()
            }
            try runBounded(loop)
            let runs = try #require(runsWhenReadHandled, "the read handler never ran")
            #expect(runs <= 11)
            #expect(loop.pendingTimers == 0)
            try loop.unregister(reader)
        }
    }

    @Test(arguments: Backend.available)
    func hugeDelaysSaturateInsteadOfOverflowing(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        var hugeFired = 0
        var repeatingRuns = 0
        // Each of these would overflow Int64 nanoseconds if added to "now" naively, and a
        // wrapped deadline would lie in the past and fire at once.
        let huge = [
            loop.schedule(after: .seconds(Int64.max)) { hugeFired += 1 },
            loop.schedule(after: .nanoseconds(Int64.max)) { hugeFired += 1 },
            loop.schedule(after: .seconds(Int64.max) + .seconds(Int64.max)) { hugeFired += 1 },
            loop.schedule(at: LoopInstant(nanoseconds: Int64.max)) { hugeFired += 1 },
            loop.schedule(at: LoopInstant.now.advanced(by: .seconds(Int64.max))) { hugeFired += 1 },
        ]
        // Fires once at once, then its next deadline saturates.
        let repeating = loop.schedule(after: .zero, repeating: .seconds(Int64.max)) { repeatingRuns += 1 }
        #expect(loop.pendingTimers == 6)
        // Bounded: a wait computed from a saturated deadline must still honour the timeout.
        let remote = loop.eventLoop
        try withDeadline(.seconds(10), onExpiry: { remote.wakeUp() }) {
            for _ in 0..<3 { try loop.runOnce(timeout: .milliseconds(10)) }
        }
        // run() has no timeout of its own: only the near timer below may end it.
        var nearFired = false
        loop.schedule(after: .milliseconds(10)) {
            nearFired = true
            loop.stop()
        }
        try runBounded(loop)
        #expect(nearFired)
        #expect(hugeFired == 0)
        #expect(repeatingRuns == 1)
        #expect(loop.pendingTimers == 6)
        #expect(huge.allSatisfy(\.isActive) && repeating.isActive)
        for handle in huge { handle.cancel() }
        repeating.cancel()
        #expect(loop.pendingTimers == 0)
    }

    @Test(arguments: Backend.available)
    func aHundredThousandTimersScheduledAndCancelledNeverFire(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let count = 100_000
        var fired = 0
        var handles: [TimerHandle] = []
        handles.reserveCapacity(count)
        for index in 0..<count {
            handles.append(loop.schedule(after: .milliseconds(Int64(index % 20))) { fired += 1 })
        }
        #expect(loop.pendingTimers == count)
        // Random order removes from every position of the heap, not just its root or end.
        var generator = SeededGenerator(seed: 0x7153_0003)
        handles.shuffle(using: &generator)
        for handle in handles { handle.cancel() }
        #expect(loop.pendingTimers == 0)
        #expect(handles.allSatisfy { !$0.isActive })
        // Every cancelled deadline (at most 19 ms) is past after this wait.
        try loop.runOnce(timeout: .milliseconds(30))
        try loop.runOnce(timeout: .zero)
        #expect(fired == 0)
        #expect(loop.metrics.timersFired == 0)
    }

    @Test(arguments: Backend.available)
    func theSurvivorsOfMassCancellationFireInDeadlineOrder(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let count = 100_000
        let base = LoopInstant.now.advanced(by: .milliseconds(1))
        var fired: [Int] = []
        var handles: [TimerHandle] = []
        handles.reserveCapacity(count)
        for index in 0..<count {
            handles.append(
                loop.schedule(at: base.advanced(by: .milliseconds(index % 20))) { fired.append(index) })
        }
        var generator = SeededGenerator(seed: 0x7153_0004)
        let order = Array(0..<count).shuffled(using: &generator)
        // Keep every 997th timer; cancel the rest in random order.
        let kept = Set(stride(from: 0, to: count, by: 997))
        for index in order where !kept.contains(index) { handles[index].cancel() }
        #expect(loop.pendingTimers == kept.count)
        try runOnceUntil(loop) { loop.pendingTimers == 0 }
        // Deadline first, then scheduling order (= index) among equal deadlines.
        let expected = kept.sorted { ($0 % 20, $0) < ($1 % 20, $1) }
        #expect(fired == expected)
    }
}
