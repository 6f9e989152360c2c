import CSelectors
import Selectors
import Testing

/// What one iteration of the real loop runs, in which order, and what handlers may change
/// mid-batch: on a virtual loop, where the order of a batch (ascending fd) and every instant
/// are known, so each test states exact outcomes. The kernel versions stay in
/// `EventLoopHandlerTests` and `StaleEventTests`.
@Suite struct VirtualLoopDispatchTests {
    @Test func oneIterationRunsReadyHandlersThenDueTimersThenQueuedTasks() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        let log = Shared<[String]>([])
        let loop = test.loop
        loop.execute { log.withLock { $0.append("task 1") } }
        loop.schedule(after: .zero) { log.withLock { $0.append("timer A") } }
        loop.schedule(after: .milliseconds(-1)) { log.withLock { $0.append("timer B (earlier)") } }
        loop.schedule(after: .zero) { log.withLock { $0.append("timer C") } }
        for fd: Int32 in [7, 2] {
            try loop.register(fd, events: .read) { fd, _ in
                log.withLock { $0.append("io \(fd)") }
                // Submitted during the handlers: runs in this iteration's task phase.
                loop.execute { log.withLock { $0.append("task from io \(fd)") } }
            }
            try test.script.deliver(fd, .read)
        }
        loop.execute { log.withLock { $0.append("task 2") } }
        #expect(try test.run() == 1)
        #expect(
            log.value == [
                "io 2", "io 7", "timer B (earlier)", "timer A", "timer C",
                "task 1", "task 2", "task from io 2", "task from io 7",
            ])
        let metrics = loop.metrics
        #expect(metrics.iterations == 1)
        #expect(metrics.eventsDispatched == 2)
        #expect(metrics.timersFired == 3)
        #expect(metrics.tasksRun == 4)
    }

    // Work created by a phase after it ran waits for the next iteration, which run()
    // makes at the same instant.
    @Test func workCreatedByTimersAndTasksRunsInTheNextIterationOfTheSameInstant() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        let log = Shared<[String]>([])
        let loop = test.loop
        loop.schedule(after: .zero) {
            log.withLock { $0.append("timer") }
            loop.schedule(after: .zero) { log.withLock { $0.append("timer from timer") } }
            try? test.script.deliver(4, .read)
        }
        loop.execute {
            log.withLock { $0.append("task") }
            loop.execute { log.withLock { $0.append("task from task") } }
        }
        try loop.register(4, events: .read) { _, _ in log.withLock { $0.append("io 4") } }
        #expect(try test.run() == 2)
        #expect(log.value == ["timer", "task", "io 4", "timer from timer", "task from task"])
        #expect(!test.hasPendingWork)
        #expect(test.now == LoopInstant(nanoseconds: 0))
    }

    @Test func aHandlerUnregisteringTheNextReadyFdKeepsItsHandlerFromRunning() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var runs: [Int32: Int] = [:]
        for (fd, other): (Int32, Int32) in [(3, 4), (4, 3)] {
            try test.loop.register(fd, events: .read) { fd, _ in
                runs[fd, default: 0] += 1
                if (try? test.loop.key(for: other)) != nil { _ = try? test.loop.unregister(other) }
            }
            try test.script.makeReady(fd, for: .read)
        }
        try test.run()
        #expect(runs == [3: 1])
        // Still readable, so each iteration reports it again; 4 never comes back.
        for _ in 0..<3 { try test.run() }
        #expect(runs == [3: 4])
    }

    @Test func aHandlerMayUnregisterOrResetItsOwnFdAndABystanderKeepsGettingEvents() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var runs: [String: Int] = [:]
        try test.loop.register(1, events: .read) { fd, _ in
            runs["unregisterFirst", default: 0] += 1
            _ = try? test.loop.unregister(fd)
            try? test.script.reset(fd)
        }
        try test.loop.register(2, events: .read) { fd, _ in
            runs["resetFirst", default: 0] += 1
            try? test.script.reset(fd)
            #expect(throws: Never.self) { try test.loop.unregister(fd) }
        }
        try test.loop.register(3, events: .read) { _, _ in runs["bystander", default: 0] += 1 }
        for fd: Int32 in 1...3 { try test.script.deliver(fd, .read) }
        try test.run()
        try test.script.deliver(3, .read)
        try test.run()
        #expect(runs == ["unregisterFirst": 1, "resetFirst": 1, "bystander": 2])
        #expect(throws: SelectorError.self) { try test.loop.key(for: 1) }
        #expect(throws: SelectorError.self) { try test.loop.key(for: 2) }
    }

    // A new registration is news even when the readiness is old, so run() keeps going
    // until every new key has heard of it; more than the selector's smallest buffer.
    @Test func aHandlerMayRegisterNewFdsThatGetTheirEventsInTheSameRun() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var newRuns: [Int32: Int] = [:]
        let fds = Array(Int32(10)..<90)
        for fd in fds { try test.script.makeReady(fd, for: .read) }
        try test.loop.register(0, events: .read) { fd, _ in
            _ = try? test.loop.unregister(fd)
            for new in fds {
                _ = try? test.loop.register(new, events: .read) { fd, _ in
                    newRuns[fd, default: 0] += 1
                    _ = try? test.loop.unregister(fd)
                }
            }
        }
        try test.script.deliver(0, .read)
        #expect(try test.run() == 2)
        #expect(newRuns == Dictionary(uniqueKeysWithValues: fds.map { ($0, 1) }))
    }

    // Unchanged standing readiness is reported by every iteration but does not keep an
    // instant busy: a handler that never drains its fd runs once per instant.
    @Test func standingReadinessRunsItsHandlerOncePerInstantNotForever() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var runs = 0
        try test.loop.register(5, events: .write) { _, _ in runs += 1 }
        try test.script.makeReady(5, for: .write)
        #expect(try test.run() == 1)
        #expect(runs == 1)
        let tick = test.loop.schedule(after: .seconds(1), repeating: .seconds(1)) {}
        // Instants: now, then 1 s, 2 s and 3 s: one iteration each.
        #expect(try test.advance(by: .seconds(3)) == 4)
        #expect(runs == 5)
        // Making it ready again is news: the next iteration tells the handler.
        try test.script.makeReady(5, for: .write)
        #expect(test.hasPendingWork)
        try test.run()
        #expect(runs == 6)
        tick.cancel()
    }

    @Test func widenedInterestIsNewsForStandingReadiness() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var seen: [Events] = []
        try test.loop.register(5, events: .read) { fd, events in
            seen.append(events)
            if events == .read { _ = try? test.loop.modify(fd, events: .all) }
        }
        try test.script.makeReady(5, for: .all)
        #expect(try test.run() == 2)
        #expect(seen == [.read, .all])
    }

    @Test func aHangUpIsSeenByTheReadHandlerWhichCanTellItFromData() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        var log: [String] = []
        try test.loop.register(6, events: .read) { fd, _ in
            if test.script.isHungUp(fd) {
                log.append("eof")
                _ = try? test.loop.unregister(fd)
            } else {
                log.append("data")
            }
        }
        try test.script.deliver(6, .read)
        try test.run()
        try test.script.hangUp(6)
        try test.run()
        try test.run()
        #expect(log == ["data", "eof"])
    }

    @Test func stopFromAHandlerIsRecordedAndTheRealRunAndSignalsAreRefused() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        #expect(!test.isStopRequested)
        try test.loop.register(1, events: .read) { _, _ in test.loop.stop() }
        try test.script.deliver(1, .read)
        try test.run()
        #expect(test.isStopRequested)
        expectSelectorError(.run, fd: nil, .virtualLoop) { try test.loop.run() }
        expectSelectorError(.onSignal, fd: nil, .virtualLoop) { try test.loop.onSignal(SIGUSR2) {} }
        #expect(test.loop.backend == .scripted)
    }

    @Test func tasksFromAnotherThreadRunOnTheTestThreadAtTheNextRun() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        let testThread = ThreadIdentity.current
        let ran = Shared<[Int]>([])
        let offThread = SharedCounter()
        let loop = test.loop.eventLoop
        withThreads(4) { index in
            for sequence in 0..<100 {
                try? loop.execute {
                    if !ThreadIdentity.current.isSame(as: testThread) { offThread.increment() }
                    ran.withLock { $0.append(index * 1_000 + sequence) }
                }
            }
        } whileRunning: {
        }
        try test.run()
        #expect(ran.value.count == 400)
        #expect(offThread.value == 0)
        for index in 0..<4 {
            let mine = ran.value.filter { $0 / 1_000 == index }
            #expect(mine == (0..<100).map { index * 1_000 + $0 })
        }
    }

    @Test func aHandlerThatClosesTheLoopEndsTheRunAndAdvanceStillReachesItsTarget() throws {
        let test = VirtualEventLoop()
        var timerFired = false
        try test.loop.register(1, events: .read) { _, _ in test.loop.close() }
        test.loop.schedule(after: .seconds(2)) { timerFired = true }
        try test.script.makeReady(1, for: .read)
        try test.script.makeReady(2, for: .read)
        #expect(try test.advance(by: .seconds(5)) == 1)
        #expect(test.now == LoopInstant(nanoseconds: 0).advanced(by: .seconds(5)))
        #expect(!timerFired)
        expectSelectorError(.run, fd: nil, .loopClosed) { try test.run() }
    }
}
