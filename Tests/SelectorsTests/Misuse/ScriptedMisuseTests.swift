import CSelectors
import Selectors
import Synchronization
import Testing

/// Misuse of the scripted backend and the virtual loop. See `Misuse`.
@Suite(.timeLimit(.minutes(2)))
struct ScriptedMisuseTests {
    @Test func scriptsRefuseAbsurdDescriptorsAndEvents() throws {
        let script = ReadinessScript()
        for fd in [Int32.min, -1, ReadinessScript.descriptorLimit, Int32.max] {
            #expect(throws: SelectorError.self) { try script.makeReady(fd, for: .read) }
            #expect(throws: SelectorError.self) { try script.deliver(fd, .read) }
            #expect(throws: SelectorError.self) { try script.hangUp(fd) }
            #expect(throws: SelectorError.self) { try script.reset(fd) }
            #expect(script.readiness(of: fd) == [])
        }
        for events in Misuse.invalidEvents {
            #expect(throws: SelectorError.self) { try script.makeReady(3, for: events) }
        }
        let test = VirtualEventLoop(startingAt: LoopInstant(nanoseconds: Int64.max - 5))
        defer { test.loop.close() }
        test.iterationLimit = -3
        var fired = 0
        test.loop.schedule(after: .zero, repeating: .zero) { fired += 1 }
        #expect(try test.run() >= 1)
        #expect(try test.advance(by: .seconds(Int64.max) * 10) >= 1)
        #expect(try test.advance(by: .seconds(Int64.min)) >= 1)
        #expect(try test.advance(to: LoopInstant(nanoseconds: Int64.min)) >= 1)
        test.spendTime(.seconds(Int64.max) * 10)
        test.spendTime(.seconds(Int64.min))
        #expect(fired >= 1)
        #expect(test.now.nanoseconds == .max)
        expectSelectorError(.run, fd: nil, .virtualLoop) { try test.loop.run() }
    }
}
