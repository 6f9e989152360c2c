import Selectors
import Testing

/// The scripted backend documents that its fds are plain numbers "below
/// `ReadinessScript.descriptorLimit`", so "any number not already registered can be
/// registered", and its capabilities say the same limit. The script accepts every such number;
/// a selector on it must too, whatever this machine's open-file limit is.
@Suite(.timeLimit(.minutes(5)))
struct ScriptedDescriptorRangeTests {
    @Test func aScriptedSelectorRegistersEveryNumberBelowTheScriptsLimit() throws {
        let script = ReadinessScript()
        let selector = Selector(script: script)
        defer { selector.close() }
        let fd = ReadinessScript.descriptorLimit - 1
        #expect(selector.descriptorLimit == ReadinessScript.descriptorLimit)
        try script.makeReady(fd, for: .read)  // the script takes it
        var ran: [Int32] = []
        try selector.register(fd, events: .read) { fd, _ in ran.append(fd) }
        for (key, events) in try selector.select(timeout: .zero) { key.handler(key.fd, events) }
        #expect(ran == [fd])
    }

    @Test func aVirtualLoopRegistersEveryNumberBelowTheScriptsLimit() throws {
        let test = VirtualEventLoop()
        defer { test.loop.close() }
        let fd = ReadinessScript.descriptorLimit - 1
        var ran = 0
        try test.loop.register(fd, events: .read) { _, _ in ran += 1 }
        try test.script.deliver(fd, .read)
        try test.run()
        #expect(ran == 1)
    }
}
