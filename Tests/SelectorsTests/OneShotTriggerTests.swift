import CSelectors
import Selectors
import Testing

/// The one-shot contract of `Trigger`: once per arming, exactly, on every backend.
@Suite struct OneShotTriggerTests {
    @Test(arguments: Backend.available)
    func oneShotReportsOnceAndStaysRegisteredButSilentUntilModifyRearmsIt(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try writeAll(right, "still here")
            let key = try selector.register(left, events: .read, trigger: .oneShot, handler: ignoreEvents)
            #expect(key.trigger == .oneShot)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            // Still readable, not reported: disarmed, but registered.
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            #expect(selector.count == 1)
            #expect(try selector.key(for: left).trigger == .oneShot)

            // Re-armed with the same events: reported again, once.
            #expect(try selector.modify(left, events: .read).trigger == .oneShot)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            #expect(try drain(left) == Array("still here".utf8))
        }
    }

    @Test(arguments: Backend.available)
    func oneShotReportsReadAndWriteTogetherInOneEntryOnce(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try writeAll(right, "x")
            try selector.register(left, events: .all, trigger: .oneShot, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .all)])
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
        }
    }

    // The arming lasts through waits that find nothing: it ends at the first report.
    @Test(arguments: Backend.available)
    func oneShotStaysArmedThroughEmptyWaitsAndReportsWhatArrivesLater(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, trigger: .oneShot, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            #expect(try selector.readyEntries(timeout: .zero) == [])
            try writeAll(right, "late")
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
        }
    }

    @Test(arguments: Backend.available)
    func dataArrivingWhileDisarmedWaitsForTheRearm(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, trigger: .oneShot, handler: ignoreEvents)
            try writeAll(right, "first")
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            try drain(left)
            try writeAll(right, "second")
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            try selector.modify(left, events: .read)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try drain(left) == Array("second".utf8))
        }
    }

    @Test(arguments: Backend.available)
    func rearmingWithOtherEventsReportsThoseOnce(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try writeAll(right, "x")
            try selector.register(left, events: .read, trigger: .oneShot, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            try selector.modify(left, events: .write)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .write)])
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
        }
    }

    // A hang-up never goes away, so a level key hears of it at every wait; a one-shot key
    // once per arming. poll reports POLLHUP even for an entry with no events, so its
    // emulation must stop passing the fd at all, not just clear the events.
    @Test(arguments: Backend.available)
    func hangUpIsReportedOncePerArming(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .all, trigger: .oneShot, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .write)])
            fds.close(right)
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            try selector.modify(left, events: .read)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            #expect(try readAvailable(left) == [])
        }
    }

    // poll and select report a registered fd that the caller closed at every wait (POLLNVAL,
    // EBADF), as readiness; one-shot must report it once, not at every wait. (The number is
    // opened first: Linux's select(2) ignores bits beyond the process's fd table, so a number
    // never opened would not be reported at all.)
    @Test(arguments: Backend.available.filter { $0 == .poll || $0 == .select })
    func closedDescriptorIsReportedOnceByPollAndSelect(backend: Backend) async throws {
        try await FixedDescriptorNumbers.withClosedNumber { closed in
            try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                let (live, livePeer) = try fds.socketPair()
                let (reader, _) = try fds.pipe()
                try fds.duplicate(reader, onto: closed)
                try selector.register(live, events: .read, handler: ignoreEvents)
                try selector.register(closed, events: .read, trigger: .oneShot, handler: ignoreEvents)
                fds.close(closed)
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: closed, events: .read)]
                )
                #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
                // The disarmed closed fd does not hide the live one either.
                try writeAll(livePeer, "x")
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: live, events: .read)])
                try selector.unregister(closed)
            }
        }
    }

    @Test(arguments: Backend.available)
    func changingTheTriggerWithModifyTakesEffectAtTheNextSelect(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try writeAll(right, "x")
            try selector.register(left, events: .read, trigger: .oneShot, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .seconds(5)).count == 1)
            #expect(try selector.modify(left, events: .read, trigger: .level).trigger == .level)
            for _ in 0..<3 {
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            }
            try selector.modify(left, events: .read, trigger: .oneShot)
            #expect(try selector.readyEntries(timeout: .seconds(5)).count == 1)
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            // A disarmed one-shot key unregisters like any other, and its number is free again.
            try selector.unregister(left)
            try selector.register(left, events: .read, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
        }
    }

    // The usual one-shot loop: the handler re-arms its own registration when it is done.
    @Test(arguments: Backend.available)
    func loopHandlerThatRearmsItselfRunsOncePerIterationWhileReady(backend: Backend) throws {
        try withDescriptors { fds in
            let loop = try EventLoop(backend: backend).assumeIsolated()
            defer { loop.close() }
            let (left, right) = try fds.socketPair()
            try writeAll(right, "never read")
            var calls = 0
            try loop.register(left, events: .read, trigger: .oneShot) { fd, _ in
                calls += 1
                if calls < 3 { _ = try? loop.modify(fd, events: .read) }
            }
            for _ in 0..<5 { try loop.runOnce(timeout: .milliseconds(20)) }
            #expect(calls == 3)
            #expect(try loop.key(for: left).trigger == .oneShot)
        }
    }
}
