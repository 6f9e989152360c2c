import Selectors
import Testing

/// A handler removed from the loop is released once none can be running, and releasing it can
/// run code: the deinit of something it captured, which may unregister another fd (retiring
/// that one's handler in turn) or close the loop. Each such release happens exactly once:
/// neither twice (a crash) nor never (a leak of the handler and all it holds).
@Suite struct EventLoopHandlerReleaseTests {
    /// Unregisters `fd` from `loop` when it goes, and counts its own deinit.
    private final class UnregistersOnDeinit {
        let loop: IsolatedEventLoop
        let fd: Int32?
        let released: Counter

        init(_ loop: IsolatedEventLoop, unregistering fd: Int32?, _ released: Counter) {
            self.loop = loop
            self.fd = fd
            self.released = released
        }

        deinit {
            released.value += 1
            if let fd { _ = try? loop.unregister(fd) }
        }
    }

    private final class Counter {
        var value = 0
    }

    /// Registers `b` with a handler holding an object whose release is counted, and `a` with
    /// one holding an object whose release is counted and unregisters `b`; `a`'s handler runs
    /// `whenReady`. Returns the two counts.
    private func registerChain(
        _ loop: IsolatedEventLoop, _ a: Int32, _ b: Int32, whenReady: @escaping () -> Void = {}
    ) throws -> (a: Counter, b: Counter) {
        let releasedA = Counter()
        let releasedB = Counter()
        let onB = UnregistersOnDeinit(loop, unregistering: nil, releasedB)
        try loop.register(b, events: .read) { _, _ in _ = onB }
        let onA = UnregistersOnDeinit(loop, unregistering: b, releasedA)
        try loop.register(a, events: .read) { _, _ in
            _ = onA
            whenReady()
        }
        return (releasedA, releasedB)
    }

    @Test(arguments: Backend.available)
    func aHandlerReplacedBetweenIterationsWhoseReleaseUnregistersAnotherIsReleasedOnce(
        backend: Backend
    ) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        try withDescriptors { fds in
            let (a, _) = try fds.socketPair()
            let (b, _) = try fds.socketPair()
            let (releasedA, releasedB) = try registerChain(loop, a, b)
            // Outside any dispatch: the old handler of `a` goes at once, and with it the
            // handler of `b`, which its deinit unregistered.
            try loop.modify(a, events: .read, handler: { _, _ in })
            #expect(releasedA.value == 1)
            #expect(releasedB.value == 1)
            #expect(throws: SelectorError.self) { try loop.key(for: b) }
            try loop.unregister(a)
        }
    }

    @Test(arguments: Backend.available)
    func aHandlerUnregisteredInItsDispatchWhoseReleaseUnregistersAnotherIsReleasedOnce(
        backend: Backend
    ) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        try withDescriptors { fds in
            let (a, aPeer) = try fds.socketPair()
            let (b, _) = try fds.socketPair()
            // Retired, and released at the end of this dispatch; its release then retires the
            // handler of `b`, which must be released as well.
            let (releasedA, releasedB) = try registerChain(loop, a, b) { _ = try? loop.unregister(a) }
            try writeAll(aPeer, "x")
            try loop.runOnce(timeout: .seconds(5))
            #expect(releasedA.value == 1)
            #expect(releasedB.value == 1)
        }
    }

    @Test(arguments: Backend.available)
    func aReleaseThatClosesTheLoopReleasesEveryHandlerOnce(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        try withDescriptors { fds in
            let (a, _) = try fds.socketPair()
            let (b, _) = try fds.socketPair()
            let releasedB = Counter()
            final class ClosesOnDeinit {
                let loop: IsolatedEventLoop
                init(_ loop: IsolatedEventLoop) { self.loop = loop }
                deinit { loop.close() }
            }
            do {
                let onB = UnregistersOnDeinit(loop, unregistering: nil, releasedB)
                try loop.register(b, events: .read) { _, _ in _ = onB }
                let closes = ClosesOnDeinit(loop)
                try loop.register(a, events: .read) { _, _ in _ = closes }
            }
            try loop.unregister(a)
            #expect(loop.isClosed)
            #expect(releasedB.value == 1)
        }
    }
}
