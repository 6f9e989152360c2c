import Selectors
import Testing

/// Trigger modes on the scripted backend: the script plays a kernel with native edge and
/// one-shot, so tests of handlers written for those modes can run in virtual time.
@Suite struct ScriptedTriggerTests {
    @Test func edgeReportsStandingReadinessOnceAndAgainOnlyForAScriptedChange() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        try selector.register(4, events: .read, trigger: .edge, handler: ignoreEvents)
        try script.makeReady(4, for: .read)
        #expect(try selector.readyEntries(timeout: .zero) == [ReadyEntry(fd: 4, events: .read)])
        #expect(try selector.readyEntries(timeout: .zero) == [])
        try script.makeReady(4, for: .read)  // more data on an undrained fd: a new edge
        #expect(try selector.readyEntries(timeout: .zero) == [ReadyEntry(fd: 4, events: .read)])
        // A modify re-arms: the standing readiness is reported once more.
        try selector.modify(4, events: .all)
        #expect(try selector.readyEntries(timeout: .zero) == [ReadyEntry(fd: 4, events: .read)])
        #expect(try selector.readyEntries(timeout: .zero) == [])
        #expect(selector.capabilities.edge == .native)
    }

    @Test func oneShotReportsOncePerArmingWhateverTheScriptDoes() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        try selector.register(4, events: .read, trigger: .oneShot, handler: ignoreEvents)
        try script.makeReady(4, for: .read)
        #expect(try selector.readyEntries(timeout: .zero) == [ReadyEntry(fd: 4, events: .read)])
        try script.deliver(4, .read)
        #expect(try selector.readyEntries(timeout: .zero) == [])
        try selector.modify(4, events: .read)
        #expect(try selector.readyEntries(timeout: .zero) == [ReadyEntry(fd: 4, events: .read)])
        #expect(try selector.readyEntries(timeout: .zero) == [])
    }

    // A disarmed one-shot key's standing readiness is no news: the instant ends (a spin here
    // would run into the iteration limit).
    @Test func virtualLoopRunsADisarmedOneShotHandlerOnceAndAgainAfterTheRearm() throws {
        let test = VirtualEventLoop()
        var calls = 0
        try test.loop.register(6, events: .read, trigger: .oneShot) { _, _ in calls += 1 }
        try test.script.makeReady(6, for: .read)
        #expect(try test.run() < 10)
        #expect(calls == 1)
        try test.loop.modify(6, events: .read)
        try test.run()
        #expect(calls == 2)
    }
}
