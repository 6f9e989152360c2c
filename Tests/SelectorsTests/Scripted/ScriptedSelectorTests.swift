import Selectors
import Testing

/// The scripted selector itself: what each kind of scripted readiness makes `select` report,
/// and that the bookkeeping on top is the real selector's.
@Suite struct ScriptedSelectorTests {
    @Test func standingReadinessIsReportedByEveryWaitUntilCleared() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        try selector.register(4, events: .read, handler: ignoreEvents)
        #expect(try selector.readyEntries(timeout: .zero) == [])
        try script.makeReady(4, for: .read)
        for _ in 0..<3 {
            #expect(try selector.readyEntries(timeout: .zero) == [ReadyEntry(fd: 4, events: .read)])
        }
        try script.clearReady(4, for: .read)
        #expect(try selector.readyEntries(timeout: .zero) == [])
        #expect(script.readiness(of: 4) == [])
    }

    @Test func aDeliveryIsReportedOnceAndWhatTheKeyDoesNotWatchWaitsForALaterWait() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        try selector.register(4, events: .read, handler: ignoreEvents)
        try script.deliver(4, .all)
        #expect(try selector.readyEntries(timeout: .zero) == [ReadyEntry(fd: 4, events: .read)])
        #expect(try selector.readyEntries(timeout: .zero) == [])
        // The write half was never watched, so nothing consumed it.
        #expect(script.readiness(of: 4) == .write)
        try selector.modify(4, events: .write)
        #expect(try selector.readyEntries(timeout: .zero) == [ReadyEntry(fd: 4, events: .write)])
        #expect(try selector.readyEntries(timeout: .zero) == [])
    }

    @Test func aDeliveryBeforeRegistrationWaitsForTheRegistration() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        try script.deliver(9, .read)
        #expect(try selector.readyEntries(timeout: .zero) == [])
        try selector.register(9, events: .read, handler: ignoreEvents)
        #expect(try selector.readyEntries(timeout: .zero) == [ReadyEntry(fd: 9, events: .read)])
    }

    @Test func clearReadyDropsAnUnreportedDeliveryButNotAHangUp() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        try selector.register(4, events: .all, handler: ignoreEvents)
        try script.deliver(4, .read)
        try script.clearReady(4)
        #expect(try selector.readyEntries(timeout: .zero) == [])
        try script.hangUp(4)
        try script.clearReady(4)
        #expect(try selector.readyEntries(timeout: .zero) == [ReadyEntry(fd: 4, events: .all)])
    }

    // The contract: hang-ups and errors have no events of their own; they show up as the
    // readiness the key asks for, and stay until the fd goes away.
    @Test(arguments: [Events.read, .write, .all])
    func aHangUpIsReportedAsWhateverTheKeyWatchesUntilReset(interest: Events) throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        try selector.register(6, events: interest, handler: ignoreEvents)
        try script.hangUp(6)
        #expect(script.isHungUp(6))
        #expect(script.error(of: 6) == nil)
        for _ in 0..<2 {
            #expect(try selector.readyEntries(timeout: .zero) == [ReadyEntry(fd: 6, events: interest)])
        }
        try script.reset(6)
        #expect(!script.isHungUp(6))
        #expect(try selector.readyEntries(timeout: .zero) == [])
    }

    @Test(arguments: [Events.read, .write, .all])
    func anErrorIsReportedAsWhateverTheKeyWatchesAndTellsWhichError(interest: Events) throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        var seen: [(Events, Errno?)] = []
        try selector.register(6, events: interest) { fd, events in seen.append((events, script.error(of: fd)))
        }
        try script.fail(6, with: .connectionReset)
        try selector.dispatch(timeout: .zero)
        #expect(seen.count == 1)
        #expect(seen.first?.0 == interest)
        #expect(seen.first?.1 == .connectionReset)
        try script.reset(6)
        #expect(try selector.dispatch(timeout: .zero) == 0)
        #expect(script.error(of: 6) == nil)
    }

    @Test func readyFdsAreReportedInAscendingOrderWithReadAndWriteInOneEntry() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        for fd: Int32 in [40, 3, 17, 900, 0] {
            try selector.register(fd, events: .all, handler: ignoreEvents)
        }
        try script.makeReady(900, for: .read)
        try script.deliver(17, .write)
        try script.makeReady(3, for: .read)
        try script.deliver(3, .write)
        try script.hangUp(0)
        #expect(
            try selector.readyEntries(timeout: .zero) == [
                ReadyEntry(fd: 0, events: .all), ReadyEntry(fd: 3, events: .all),
                ReadyEntry(fd: 17, events: .write), ReadyEntry(fd: 900, events: .read),
            ])
    }

    // The kernel backends resume a wait that ends early; a scripted wait must not, or a
    // select with a timeout would spin in real time until it ran out.
    @Test func aWaitWithATimeoutReturnsAtOnceWhenNothingIsReady() throws {
        let selector = Selector(script: ReadinessScript())
        try selector.register(1, events: .read, handler: ignoreEvents)
        try withDeadline(.seconds(10), onExpiry: {}) { () throws in
            #expect(try selector.readyEntries(timeout: .seconds(60)) == [])
            #expect(try selector.readyEntries(timeout: nil) == [])
        }
    }

    @Test func aScriptedSelectorSaysItIsScriptedAndScriptedCannotBeCreatedByName() throws {
        #expect(Selector(script: ReadinessScript()).backend == .scripted)
        #expect(!Backend.available.contains(.scripted))
        #expect(!Backend.scripted.isAvailable)
        #expect(Backend(name: "scripted") == .scripted)
        expectSelectorError(.create, fd: nil, .backendUnavailable(.scripted)) {
            try Selector(backend: .scripted)
        }
        expectSelectorError(.create, fd: nil, .backendUnavailable(.scripted)) {
            try EventLoop(backend: .scripted)
        }
        let text = SelectorError(.create, fd: nil, .backendUnavailable(.scripted)).description
        #expect(text.contains("Selector(script:)"), "\(text)")
    }

    // Validation is the real selector's, so its errors are the same as over a kernel.
    @Test func registrationMisuseGetsTheSelectorsOwnErrors() throws {
        let selector = Selector(script: ReadinessScript())
        expectSelectorError(.register, fd: -1, .negativeDescriptor) {
            try selector.register(-1, events: .read, handler: ignoreEvents)
        }
        expectSelectorError(.register, fd: 3, .invalidEvents([])) {
            try selector.register(3, events: [], handler: ignoreEvents)
        }
        try selector.register(3, events: .read, handler: ignoreEvents)
        expectSelectorError(.register, fd: 3, .alreadyRegistered) {
            try selector.register(3, events: .write, handler: ignoreEvents)
        }
        expectSelectorError(.modify, fd: 4, .notRegistered) { try selector.modify(4, events: .read) }
        expectSelectorError(.unregister, fd: 4, .notRegistered) { try selector.unregister(4) }
        let limit = ReadinessScript.descriptorLimit
        expectSelectorError(.register, fd: limit, .descriptorTooLarge(limit: limit)) {
            try selector.register(limit, events: .read, handler: ignoreEvents)
        }
        let text = SelectorError(.register, fd: limit, .descriptorTooLarge(limit: limit)).description
        #expect(!text.contains("FD_SETSIZE"), "\(text)")
        #expect(selector.count == 1)
    }

    @Test func aRejectedRegistrationLeavesNoKeyAndARejectedModifyRemovesTheKey() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        try script.rejectRegistrations(of: 5, with: .badFileDescriptor)
        expectSelectorError(.register, fd: 5, .system(.badFileDescriptor)) {
            try selector.register(5, events: .read, handler: ignoreEvents)
        }
        #expect(selector.count == 0)
        expectSelectorError(.key, fd: 5, .notRegistered) { try selector.key(for: 5) }
        try script.reset(5)
        try selector.register(5, events: .read, handler: ignoreEvents)

        try script.rejectRegistrations(of: 5, with: .notPermitted)
        // A handler-only change makes no "system call", so nothing can refuse it.
        try selector.modify(5, events: .read, handler: ignoreEvents)
        expectSelectorError(.modify, fd: 5, .system(.notPermitted)) { try selector.modify(5, events: .write) }
        #expect(selector.count == 0)
        // The key is gone; an event for the number must not find it.
        try script.hangUp(5)
        #expect(try selector.readyEntries(timeout: .zero) == [])
    }

    @Test func scriptMisuseThrowsAnErrorNamingTheCallTheFdAndTheReason() {
        let script = ReadinessScript()
        expectSelectorError(.makeReady, fd: -2, .negativeDescriptor) { try script.makeReady(-2, for: .read) }
        expectSelectorError(.makeReady, fd: 1, .invalidEvents([])) { try script.makeReady(1, for: []) }
        expectSelectorError(.clearReady, fd: 1, .invalidEvents(Events(rawValue: 4))) {
            try script.clearReady(1, for: Events(rawValue: 4))
        }
        expectSelectorError(.deliver, fd: -1, .negativeDescriptor) { try script.deliver(-1, .write) }
        expectSelectorError(.hangUp, fd: -1, .negativeDescriptor) { try script.hangUp(-1) }
        expectSelectorError(.fail, fd: -1, .negativeDescriptor) {
            try script.fail(-1, with: .connectionReset)
        }
        expectSelectorError(.rejectRegistrations, fd: -1, .negativeDescriptor) {
            try script.rejectRegistrations(of: -1, with: .badFileDescriptor)
        }
        let limit = ReadinessScript.descriptorLimit
        expectSelectorError(.reset, fd: limit, .descriptorTooLarge(limit: limit)) { try script.reset(limit) }
        #expect(script.readiness(of: -1) == [])
        #expect(script.readiness(of: 1) == [])
    }

    @Test func handlerThatUnregistersTheNextReadyFdStopsItsPendingEvent() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        var ran: [Int32] = []
        // Ascending order: 3 runs first and removes 4, whose event is in the same batch.
        try selector.register(3, events: .read) { [unowned selector] fd, _ in
            ran.append(fd)
            _ = try? selector.unregister(4)
        }
        try selector.register(4, events: .read) { fd, _ in ran.append(fd) }
        try script.makeReady(3, for: .read)
        try script.makeReady(4, for: .read)
        #expect(try selector.dispatch(timeout: .zero) == 1)
        #expect(ran == [3])
        #expect(selector.count == 1)
    }

    @Test func handlerThatReregistersTheNextReadyFdDoesNotHandTheNewKeyTheOldEvent() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        var ran: [String] = []
        var acted = false
        try selector.register(3, events: .read) { [unowned selector] _, _ in
            ran.append("3")
            guard !acted else { return }
            acted = true
            _ = try? selector.unregister(4)
            _ = try? selector.register(4, events: .read) { _, _ in ran.append("new 4") }
        }
        try selector.register(4, events: .read) { _, _ in ran.append("old 4") }
        try script.makeReady(3, for: .read)
        try script.makeReady(4, for: .read)
        #expect(try selector.dispatch(timeout: .zero) == 1)
        #expect(ran == ["3"])
        // Standing readiness: the new registration hears about it from the next wait.
        #expect(try selector.dispatch(timeout: .zero) == 2)
        #expect(ran == ["3", "3", "new 4"])
    }

    // A one-time delivery is consumed by the wait that reports it, even when the selector
    // then drops that event as stale: the new registration never sees it.
    @Test func aDeliveryDroppedAsStaleIsGone() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        var ran: [String] = []
        try selector.register(3, events: .read) { [unowned selector] _, _ in
            ran.append("3")
            _ = try? selector.unregister(4)
            _ = try? selector.register(4, events: .read) { _, _ in ran.append("new 4") }
        }
        try selector.register(4, events: .read) { _, _ in ran.append("old 4") }
        try script.deliver(3, .read)
        try script.deliver(4, .read)
        #expect(try selector.dispatch(timeout: .zero) == 1)
        #expect(try selector.dispatch(timeout: .zero) == 0)
        #expect(ran == ["3"])
    }

    @Test func handlerThatNarrowsTheNextFdsInterestMasksItsPendingEvent() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        var ran: [String] = []
        try selector.register(3, events: .read) { [unowned selector] _, _ in
            ran.append("3")
            _ = try? selector.modify(4, events: .write)
        }
        try selector.register(4, events: .all) { _, events in ran.append("4 \(events)") }
        try script.makeReady(3, for: .read)
        try script.makeReady(4, for: .read)
        #expect(try selector.dispatch(timeout: .zero) == 1)
        #expect(ran == ["3"])
    }

    @Test func aClosedScriptedSelectorThrowsAndItsScriptKeepsTheReadiness() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        try selector.register(2, events: .read, handler: ignoreEvents)
        try script.makeReady(2, for: .read)
        selector.close()
        selector.close()
        expectSelectorError(.select, fd: nil, .selectorClosed) { try selector.select(timeout: .zero) }
        expectSelectorError(.register, fd: 2, .selectorClosed) {
            try selector.register(2, events: .read, handler: ignoreEvents)
        }
        #expect(script.readiness(of: 2) == .read)
        let next = Selector(script: script)
        try next.register(2, events: .read, handler: ignoreEvents)
        #expect(try next.readyEntries(timeout: .zero) == [ReadyEntry(fd: 2, events: .read)])
    }

    @Test func twoSelectorsOnOneScriptShareStandingReadinessAndTheFirstWaitTakesADelivery() throws {
        let script = ReadinessScript()
        let first = Selector(script: script)
        let second = Selector(script: script)
        for selector in [first, second] { try selector.register(8, events: .all, handler: ignoreEvents) }
        try script.makeReady(8, for: .write)
        try script.deliver(8, .read)
        #expect(try first.readyEntries(timeout: .zero) == [ReadyEntry(fd: 8, events: .all)])
        #expect(try second.readyEntries(timeout: .zero) == [ReadyEntry(fd: 8, events: .write)])
    }

    // The key table is indexed by fd, so a batch must hold every registration: more than
    // the smallest ready buffer all at once.
    @Test func aThousandReadyFdsArriveInOneBatch() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        for fd: Int32 in 0..<1_000 {
            try selector.register(fd, events: .write, handler: ignoreEvents)
            try script.makeReady(fd, for: .write)
        }
        let entries = try selector.readyEntries(timeout: .zero)
        #expect(entries == (0..<1_000).map { ReadyEntry(fd: $0, events: .write) })
    }
}
