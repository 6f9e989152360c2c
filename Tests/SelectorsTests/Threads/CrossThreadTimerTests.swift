import CSelectors
import Selectors
import Synchronization
import Testing

/// Timers from other threads: `EventLoop.schedule` with a `@Sendable` body from any thread,
/// and `TimerHandle.cancel()` from any thread (a timer cancelled before it starts never
/// runs). A handle whose loop closed is inactive.
@Suite struct CrossThreadTimerTests {
    @Test(arguments: Backend.available)
    func aTimerScheduledFromAnotherThreadRunsOnTheLoopThreadInDeadlineOrder(backend: Backend) throws {
        let thread = try EventLoopThread(name: uniqueThreadName("tmr-sched-"), backend: backend)
        defer { thread.shutdown() }
        let loop = thread.loop
        let order = Shared<[String]>([])
        let offThread = SharedCounter()
        let deadline = loop.now.advanced(by: .milliseconds(30))
        let first = loop.schedule(at: deadline) {
            if !loop.isOnLoopThread { offThread.increment() }
            order.withLock { $0.append("first") }
        }
        let second = loop.schedule(at: deadline) { order.withLock { $0.append("second") } }
        let earlier = loop.schedule(after: .milliseconds(5)) { order.withLock { $0.append("earlier") } }
        #expect(first.isActive && second.isActive && earlier.isActive)
        eventually { order.value.count == 3 }
        #expect(order.value == ["earlier", "first", "second"], "deadline order; ties in scheduling order")
        #expect(LoopInstant.now >= deadline, "never early")
        #expect(offThread.value == 0)
        #expect(!first.isActive && !second.isActive && !earlier.isActive, "one-shot timers are done")
    }

    /// The loop's thread waits at a gate while the timer falls due; the test cancels it from
    /// its own thread meanwhile. Once the gate opens, the loop runs its due timers: the
    /// cancelled one must not be among them.
    @Test(arguments: Backend.available)
    func aTimerCancelledFromAnotherThreadBeforeItStartsNeverRuns(backend: Backend) throws {
        let thread = try EventLoopThread(name: uniqueThreadName("tmr-cancel-"), backend: backend)
        defer { thread.shutdown() }
        let loop = thread.loop
        let ran = SharedCounter()
        let marker = SharedFlag()
        let gate = try Gate()
        let timer = loop.schedule(after: .milliseconds(10)) { ran.increment() }
        // Due after the cancelled one: when it runs, the other's deadline has passed.
        loop.schedule(after: .milliseconds(20)) { marker.set() }
        try gate.block(loop)
        sleep(for: .milliseconds(30))
        #expect(timer.isActive)
        timer.cancel()
        #expect(!timer.isActive, "inactive as soon as cancel returns")
        gate.open()
        eventually { marker.isSet }
        #expect(ran.value == 0)
        timer.cancel()
    }

    @Test(arguments: Backend.available)
    func aRepeatingTimerCancelledFromAnotherThreadStops(backend: Backend) throws {
        let thread = try EventLoopThread(name: uniqueThreadName("tmr-rep-"), backend: backend)
        defer { thread.shutdown() }
        let loop = thread.loop
        let ticks = SharedCounter()
        let timer = loop.schedule(after: .milliseconds(1), repeating: .milliseconds(1)) { ticks.increment() }
        eventually { ticks.value >= 3 }
        timer.cancel()
        #expect(!timer.isActive)
        // A task queued now runs after any tick already under way.
        let settled = try onLoop(loop) { ticks.value }
        let marker = SharedFlag()
        loop.schedule(after: .milliseconds(20)) { marker.set() }
        eventually { marker.isSet }
        #expect(ticks.value == settled, "no tick after the cancel took effect")
    }

    /// Many timers, each cancelled from another thread while the loop may be firing it: each
    /// body runs at most once, and every handle ends inactive.
    @Test(arguments: Backend.available)
    func cancelsRacingWithFiringRunEachBodyAtMostOnce(backend: Backend) throws {
        let thread = try EventLoopThread(name: uniqueThreadName("tmr-race-"), backend: backend)
        defer { thread.shutdown() }
        let loop = thread.loop
        let count = 500
        let runs = Shared<[Int]>(Array(repeating: 0, count: count))
        let handles = (0..<count).map { index in
            loop.schedule(after: .microseconds(index * 10)) { runs.withLock { $0[index] += 1 } }
        }
        for handle in handles.reversed() { handle.cancel() }
        let marker = SharedFlag()
        loop.schedule(after: .milliseconds(10)) { marker.set() }
        eventually { marker.isSet }
        #expect(runs.value.allSatisfy { $0 <= 1 })
        #expect(handles.allSatisfy { !$0.isActive })
    }

    // MARK: Closed loops

    @Test(arguments: Backend.available)
    func aTimerScheduledOnTheLoopThreadIsInactiveOnceTheLoopCloses(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        let local = loop.schedule(after: .seconds(60)) {}
        let remote = loop.eventLoop.schedule(after: .seconds(60)) {}
        #expect(local.isActive && remote.isActive)
        loop.close()
        #expect(!local.isActive && !remote.isActive)
        local.cancel()
        remote.cancel()
    }

    /// Scheduled from another thread, the timer reaches the loop as a task; a loop closed
    /// before that task ran drops it. The handle must not stay active for good.
    @Test(arguments: Backend.available)
    func aTimerScheduledFromAnotherThreadIsInactiveOnceTheLoopCloses(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        let remote = loop.eventLoop
        let handle = Shared<TimerHandle?>(nil)
        withThreads(1) { _ in
            handle.withLock { $0 = remote.schedule(after: .seconds(60)) {} }
        } whileRunning: {
        }
        let timer = try #require(handle.value)
        #expect(timer.isActive)
        loop.close()
        #expect(!timer.isActive, "its loop closed")
        timer.cancel()
    }

    @Test(arguments: Backend.available)
    func aTimerScheduledOnAClosedLoopIsInactiveAndNeverRuns(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        let remote = loop.eventLoop
        loop.close()
        let ran = SharedCounter()
        let handles = Shared<[TimerHandle]>([])
        withThreads(1) { _ in
            let handle = remote.schedule(after: .zero) { ran.increment() }
            handles.withLock { $0.append(handle) }
        } whileRunning: {
            handles.withLock { $0.append(loop.schedule(after: .zero) { ran.increment() }) }
        }
        #expect(handles.value.count == 2)
        #expect(handles.value.allSatisfy { !$0.isActive })
        #expect(ran.value == 0)
    }

    @Test(arguments: Backend.available)
    func aHandleOutlivingItsLoopIsInactiveAndCancelsQuietly(backend: Backend) throws {
        let timer = try { () throws -> TimerHandle in
            let thread = try EventLoopThread(name: uniqueThreadName("tmr-gone-"), backend: backend)
            defer { thread.shutdown() }
            return thread.loop.schedule(after: .seconds(60)) {}
        }()
        #expect(!timer.isActive)
        withThreads(2) { _ in
            timer.cancel()
        } whileRunning: {
            timer.cancel()
        }
    }
}
