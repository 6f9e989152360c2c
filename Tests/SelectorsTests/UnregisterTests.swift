import CSelectors
import Selectors
import Testing

@Suite struct UnregisterTests {
    @Test(arguments: Backend.available, Trigger.allCases)
    func unregisterReturnsTheKeyAndStopsReportingTheDescriptor(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            let (watched, _) = try fds.socketPair()
            try selector.register(left, events: .read, trigger: trigger, handler: ignoreEvents)
            try selector.register(watched, events: .write, trigger: trigger, handler: ignoreEvents)
            let key = try selector.unregister(left)
            #expect(key.fd == left)
            #expect(key.events == .read)
            #expect(selector.count == 1)
            try writeAll(right, "x")
            #expect(
                try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: watched, events: .write)])
        }
    }

    @Test(arguments: Backend.available, Trigger.allCases)
    func unregisterAfterTheUserClosedTheDescriptorSucceeds(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, trigger: trigger, handler: ignoreEvents)
            try writeAll(right, "pending")
            fds.close(left)
            // Whatever the kernel says about the stale number (EBADF, or ENOENT if another
            // test already reopened it) is not the caller's problem.
            let key = try selector.unregister(left)
            #expect(key.fd == left)
            #expect(selector.count == 0)
            expectSelectorError(.key, fd: left, .notRegistered) { try selector.key(for: left) }
            #expect(try selector.readyEntries(timeout: .zero) == [])
        }
    }

    // The old registration's number now names a different file. Unregistering must drop
    // only the bookkeeping: the new file stays open, and can be watched and read as usual.
    @Test(arguments: Backend.available, Trigger.allCases)
    func unregisterAfterTheNumberWasReusedByDup2LeavesTheNewFileAlone(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (oldReader, _) = try fds.pipe()
            let (newReader, newWriter) = try fds.pipe()
            try selector.register(oldReader, events: .read, trigger: trigger, handler: ignoreEvents)
            let number = oldReader
            try fds.duplicate(newReader, onto: number)

            try selector.unregister(number)
            #expect(isOpen(number))
            try selector.register(number, events: .read, trigger: trigger, handler: ignoreEvents)
            try writeAll(newWriter, "new")
            #expect(
                try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: number, events: .read)])
            #expect(try readAvailable(number) == Array("new".utf8))
        }
    }

    @Test(arguments: Backend.available)
    func unregisterOfAnUnknownDescriptorThrowsNotRegistered(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            expectSelectorError(.unregister, fd: right, .notRegistered) { try selector.unregister(right) }
            expectSelectorError(.unregister, fd: -1, .notRegistered) { try selector.unregister(-1) }
            expectSelectorError(.unregister, fd: 1_000_000, .notRegistered) {
                try selector.unregister(1_000_000)
            }
            #expect(selector.count == 1)
        }
    }

    @Test(arguments: Backend.available)
    func unregisterTwiceThrowsNotRegisteredTheSecondTime(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, _) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            try selector.unregister(left)
            expectSelectorError(.unregister, fd: left, .notRegistered) { try selector.unregister(left) }
            #expect(selector.count == 0)
        }
    }

    @Test(arguments: Backend.available)
    func descriptorCanBeRegisteredAgainAfterUnregister(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .write, handler: ignoreEvents)
            try selector.unregister(left)
            try selector.register(left, events: .read, handler: ignoreEvents)
            try writeAll(right, "x")
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
        }
    }
}
