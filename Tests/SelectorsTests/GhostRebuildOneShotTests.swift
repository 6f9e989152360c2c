import CSelectors
import Selectors
import Testing

/// A disarmed one-shot registration stays silent until `modify` re-arms it (see `Trigger`),
/// whatever happens to other registrations. On epoll, a ghost left by another fd (closed while
/// a duplicate keeps its file open, then unregistered, which `unregister` supports) makes the
/// selector rebuild the kernel's interest set; the rebuild must not arm the one-shot key again.
/// Run on every backend: those that never rebuild must behave the same.
@Suite struct GhostRebuildOneShotTests {
    /// Makes a ghost of `fd` (closed while a duplicate keeps its file open, then unregistered)
    /// and writes to its file, so the kernel reports it.
    private func makeGhost(
        of fd: Int32, peer: Int32, in selector: Selector, _ fds: OpenDescriptors
    ) throws {
        _ = try fds.duplicate(fd, atLeast: 0)
        fds.close(fd)
        try selector.unregister(fd)
        try writeAll(peer, "y")
    }

    @Test(arguments: Backend.available)
    func aDisarmedOneShotKeyStaysSilentWhenAnotherFdLeavesAGhost(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (oneShot, oneShotPeer) = try fds.socketPair()
            let (other, otherPeer) = try fds.socketPair()
            try selector.register(oneShot, events: .read, trigger: .oneShot, handler: ignoreEvents)
            try selector.register(other, events: .read, handler: ignoreEvents)
            try writeAll(oneShotPeer, "x")
            #expect(
                try selector.readyEntries(timeout: .seconds(2)) == [ReadyEntry(fd: oneShot, events: .read)])
            // Disarmed now, its byte still unread (a worker would handle it, then re-arm).
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            try makeGhost(of: other, peer: otherPeer, in: selector, fds)
            #expect(try selector.readyEntries(timeout: .milliseconds(50)) == [], "\(backend): re-armed")
            #expect(try selector.readyEntries(timeout: .milliseconds(50)) == [], "\(backend)")
            // `modify` arms it again (on epoll: adds it back to the rebuilt set), and the unread
            // byte is reported; then it is disarmed again, as a one-shot key is.
            try selector.modify(oneShot, events: .read)
            #expect(
                try selector.readyEntries(timeout: .seconds(2)) == [ReadyEntry(fd: oneShot, events: .read)])
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
        }
    }

    /// An armed one-shot key is still armed after the rebuild: its readiness is reported once.
    /// A disarmed one left out of the kernel can be unregistered, and registered again.
    @Test(arguments: Backend.available)
    func armedOneShotKeysStayArmedAndDisarmedOnesCanBeUnregistered(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (armed, armedPeer) = try fds.socketPair()
            let (disarmed, disarmedPeer) = try fds.socketPair()
            let (other, otherPeer) = try fds.socketPair()
            try selector.register(armed, events: .read, trigger: .oneShot, handler: ignoreEvents)
            try selector.register(disarmed, events: .read, trigger: .oneShot, handler: ignoreEvents)
            try selector.register(other, events: .read, handler: ignoreEvents)
            try writeAll(disarmedPeer, "x")
            #expect(
                try selector.readyEntries(timeout: .seconds(2)) == [ReadyEntry(fd: disarmed, events: .read)])
            try makeGhost(of: other, peer: otherPeer, in: selector, fds)
            #expect(try selector.readyEntries(timeout: .milliseconds(50)) == [])
            try writeAll(armedPeer, "z")
            #expect(try selector.readyEntries(timeout: .seconds(2)) == [ReadyEntry(fd: armed, events: .read)])
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            try selector.unregister(disarmed)
            try selector.register(disarmed, events: .read, handler: ignoreEvents)
            #expect(
                try selector.readyEntries(timeout: .seconds(2)) == [ReadyEntry(fd: disarmed, events: .read)])
        }
    }
}
