import Selectors
import Testing

@Suite struct KeysTests {
    @Test(arguments: Backend.available)
    func keysSnapshotHoldsEveryRegisteredDescriptor(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (a, b) = try fds.socketPair()
            let (c, _) = try fds.socketPair()
            try selector.register(c, events: .read, handler: ignoreEvents)
            try selector.register(a, events: .write, handler: ignoreEvents)
            try selector.register(b, events: .all, handler: ignoreEvents)
            let keys = try selector.keys
            #expect(keys.count == 3)
            #expect(!keys.isEmpty)
            #expect(keys.descriptors == [a, b, c].sorted())
            #expect(keys.map(\.fd) == [a, b, c].sorted())
            #expect(keys[a]?.events == .write)
            #expect(keys[b]?.events == .all)
            #expect(keys[c]?.events == .read)
            #expect(keys[-1] == nil)
        }
    }

    @Test(arguments: Backend.available)
    func keysSnapshotDoesNotFollowLaterChanges(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (a, b) = try fds.socketPair()
            try selector.register(a, events: .read, handler: ignoreEvents)
            let snapshot = try selector.keys
            try selector.modify(a, events: .write)
            try selector.register(b, events: .read, handler: ignoreEvents)
            #expect(snapshot.descriptors == [a])
            #expect(snapshot[a]?.events == .read)
            #expect(try selector.keys.descriptors == [a, b].sorted())
            try selector.unregister(a)
            try selector.unregister(b)
            #expect(try selector.keys.isEmpty)
            #expect(snapshot.count == 1)
        }
    }

    /// A view iterated to its end and still held yields its batch again after the next
    /// select, as Python's list would (see `ReadyBatch`).
    @Test(arguments: Backend.available)
    func readyKeysKeepTheirBatchAfterTheNextSelect(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            let (other, otherPeer) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            try selector.register(other, events: .read, handler: ignoreEvents)
            try writeAll(right, "x")
            let first = try selector.select(timeout: .seconds(5))
            #expect(first.map(\.key.fd) == [left])
            try drain(left)
            try writeAll(otherPeer, "y")
            let second = try selector.select(timeout: .seconds(5))
            #expect(first.map(\.key.fd) == [left])
            #expect(second.map(\.key.fd) == [other])
        }
    }
}
