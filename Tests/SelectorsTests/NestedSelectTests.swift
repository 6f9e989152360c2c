import CSelectors
import Selectors
import Testing

/// A `select` made while an earlier batch's `ReadyKeys` is still being iterated (a handler
/// that polls, say), or still held, leaves that batch whole, as Python's `select`, which
/// returns a list, does. The kernel does not report an edge or one-shot readiness twice, so an event dropped
/// from the outer batch would be a wait that never ends.
@Suite struct NestedSelectTests {
    /// The outer batch's one-shot events all reach their handlers although each handler
    /// selects again.
    @Test(arguments: Backend.available)
    func aNestedSelectDoesNotSilenceAOneShotKey(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (a, aPeer) = try fds.socketPair()
            let (b, bPeer) = try fds.socketPair()
            var handled: Set<Int32> = []
            let handler: SelectorHandler = { fd, _ in
                handled.insert(fd)
                _ = try? selector.select(timeout: .zero)  // a helper that polls briefly
            }
            try selector.register(a, events: .read, trigger: .oneShot, handler: handler)
            try selector.register(b, events: .read, trigger: .oneShot, handler: handler)
            try writeAll(aPeer, "x")
            try writeAll(bPeer, "x")
            for _ in 0..<5 where handled.count < 2 { try selector.dispatch(timeout: .milliseconds(50)) }
            #expect(handled == [a, b], "\(backend): a one-shot readiness was lost: \(handled)")
        }
    }

    /// Edge-triggered, with the nested batch iterated too: the outer batch yields its other
    /// fds, each once, and the nested batch reports what is new.
    @Test(arguments: Backend.available)
    func theOuterBatchYieldsTheRestAfterANestedBatchWasIterated(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let pairs = try (0..<4).map { _ in try fds.socketPair() }
            let (late, latePeer) = try fds.socketPair()
            for (fd, peer) in pairs {
                try selector.register(fd, events: .read, trigger: .edge, handler: ignoreEvents)
                try writeAll(peer, "x")
            }
            try selector.register(late, events: .read, trigger: .edge, handler: ignoreEvents)
            var outer: [Int32] = []
            var nested: [Int32] = []
            for (key, _) in try selector.select(timeout: .seconds(2)) {
                outer.append(key.fd)
                if outer.count == 1 {
                    try writeAll(latePeer, "y")
                    nested = try selector.readyEntries(timeout: .seconds(2)).map(\.fd)
                }
            }
            #expect(outer.sorted() == pairs.map(\.0).sorted(), "\(backend): outer \(outer)")
            #expect(nested.contains(late), "\(backend): nested \(nested)")
        }
    }

    /// A batch selected over before it was iterated still yields its events.
    @Test(arguments: Backend.available)
    func aBatchSelectedOverBeforeItWasIteratedStillYieldsItsEvents(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (a, aPeer) = try fds.socketPair()
            try selector.register(a, events: .read, trigger: .oneShot, handler: ignoreEvents)
            try writeAll(aPeer, "x")
            let first = try selector.select(timeout: .seconds(2))
            let second = try selector.select(timeout: .zero)
            #expect(Array(second).isEmpty, "\(backend): the one-shot key was disarmed by the first wait")
            #expect(first.map(\.key.fd) == [a], "\(backend)")
        }
    }

    /// More nested selects in one batch than any fixed number of batches kept aside: each
    /// handler polls while another registration is ready at every select, and the outer batch
    /// still yields every one-shot event.
    @Test(arguments: Backend.available)
    func manyNestedSelectsInOneBatchLeaveTheOuterBatchWhole(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (always, _) = try fds.socketPair()  // writable: ready at every select
            try selector.register(always, events: .write, handler: ignoreEvents)
            let pairs = try (0..<12).map { _ in try fds.socketPair() }
            var handled: Set<Int32> = []
            let handler: SelectorHandler = { fd, _ in
                handled.insert(fd)
                _ = try? selector.select(timeout: .zero)  // a helper that polls briefly
            }
            for (fd, peer) in pairs {
                try selector.register(fd, events: .read, trigger: .oneShot, handler: handler)
                try writeAll(peer, "x")
            }
            for _ in 0..<5 where handled.count < pairs.count {
                try selector.dispatch(timeout: .milliseconds(50))
            }
            #expect(
                handled.count == pairs.count,
                "\(backend): \(pairs.count - handled.count) one-shot readinesses lost")
        }
    }

    /// A view looked through once (`contains`) and then iterated: a handler's nested select
    /// does not cut the iteration short, as it would not cut Python's list.
    @Test(arguments: Backend.available)
    func aViewSearchedThenIteratedYieldsItsRestAfterANestedSelect(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let pairs = try (0..<4).map { _ in try fds.socketPair() }
            var handled: Set<Int32> = []
            let handler: SelectorHandler = { fd, _ in
                handled.insert(fd)
                _ = try? selector.select(timeout: .zero)
            }
            for (fd, peer) in pairs {
                try selector.register(fd, events: .read, trigger: .oneShot, handler: handler)
                try writeAll(peer, "x")
            }
            for _ in 0..<5 where handled.count < pairs.count {
                let ready = try selector.select(timeout: .milliseconds(50))
                _ = ready.contains { $0.key.fd == -1 }  // looks through every entry
                for (key, events) in ready { key.handler(key.fd, events) }
            }
            #expect(
                handled.count == pairs.count,
                "\(backend): \(pairs.count - handled.count) one-shot readinesses lost")
        }
    }

    /// Closing the selector empties every view, superseded ones included.
    @Test(arguments: Backend.available)
    func closingTheSelectorEmptiesSupersededViews(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (a, aPeer) = try fds.socketPair()
            try selector.register(a, events: .read, handler: ignoreEvents)
            try writeAll(aPeer, "x")
            let first = try selector.select(timeout: .seconds(2))
            _ = try selector.select(timeout: .zero)
            selector.close()
            #expect(Array(first).isEmpty, "\(backend)")
        }
    }
}
