import CSelectors
import Selectors
import Testing

@Suite struct RegisterTests {
    @Test(arguments: Backend.available, Trigger.allCases)
    func registerReturnsTheKeyAndKeyForFindsIt(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, _) = try fds.socketPair()
            var calls: [Events] = []
            let key = try selector.register(left, events: .read, trigger: trigger) { _, events in
                calls.append(events)
            }
            #expect(key.fd == left)
            #expect(key.events == .read)
            #expect(key.trigger == trigger)
            let found = try selector.key(for: left)
            #expect(found.fd == left)
            #expect(found.events == .read)
            #expect(found.trigger == trigger)
            #expect(try selector.keys[left]?.trigger == trigger)
            found.handler(left, .read)
            #expect(calls == [.read])
            #expect(selector.count == 1)
        }
    }

    // The call every existing program makes, without a trigger, keeps its old meaning.
    @Test(arguments: Backend.available)
    func registerWithoutATriggerIsLevelTriggered(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            #expect(try selector.register(left, events: .read, handler: ignoreEvents).trigger == .level)
            try writeAll(right, "x")
            for _ in 0..<3 {
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            }
            #expect(try selector.modify(left, events: .all).trigger == .level)
        }
    }

    @Test(arguments: Backend.available)
    func emptyEventsAreRefusedAndLeaveNoKey(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            expectSelectorError(.register, fd: left, .invalidEvents([])) {
                try selector.register(left, events: [], handler: ignoreEvents)
            }
            try expectNoKeyLeft(selector, left, count: 0)
            try expectLaterRegistrationWorks(selector, left) { try writeAll(right, "x") }
        }
    }

    @Test(arguments: Backend.available)
    func unknownEventBitsAreRefusedAndLeaveNoKey(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            let unknown = Events(rawValue: 4)
            expectSelectorError(.register, fd: left, .invalidEvents(unknown)) {
                try selector.register(left, events: unknown, handler: ignoreEvents)
            }
            // A known bit does not make an unknown one acceptable.
            let mixed = Events.read.union(unknown)
            expectSelectorError(.register, fd: left, .invalidEvents(mixed)) {
                try selector.register(left, events: mixed, handler: ignoreEvents)
            }
            try expectNoKeyLeft(selector, left, count: 0)
            try expectLaterRegistrationWorks(selector, left) { try writeAll(right, "x") }
        }
    }

    @Test(arguments: Backend.available)
    func negativeDescriptorIsRefusedAndLeavesNoKey(backend: Backend) throws {
        let selector = try Selector(backend: backend)
        for fd: Int32 in [-1, -42, .min] {
            expectSelectorError(.register, fd: fd, .negativeDescriptor) {
                try selector.register(fd, events: .read, handler: ignoreEvents)
            }
            try expectNoKeyLeft(selector, fd, count: 0)
        }
    }

    @Test(arguments: Backend.available)
    func duplicateRegistrationIsRefusedAndKeepsTheFirstKey(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            var firstCalls = 0
            var secondCalls = 0
            try selector.register(left, events: .read) { _, _ in firstCalls += 1 }
            expectSelectorError(.register, fd: left, .alreadyRegistered) {
                try selector.register(left, events: .write) { _, _ in secondCalls += 1 }
            }
            #expect(selector.count == 1)
            #expect(try selector.key(for: left).events == .read)
            // The kernel must still hold the first interest: data makes it fire, and only
            // the first handler runs.
            try writeAll(right, "x")
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(firstCalls == 1)
            #expect(secondCalls == 0)
        }
    }

    // poll and select keep their fd lists in user space and only hand them to the kernel in
    // the wait, so there is nothing that could refuse a closed fd at register time; the
    // wait then reports it (POLLNVAL, or EBADF from select(2), which the select backend
    // turns into readiness for exactly the closed fds) so its handler finds out. uring
    // submits a registration with the next wait, where its poll fails with EBADF: the same.
    @Test(arguments: Backend.available)
    func closedDescriptorIsRefusedByEpollAndReportedReadyByPollAndSelect(backend: Backend) async throws {
        try await FixedDescriptorNumbers.withClosedNumber { closed in
            try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                let (other, _) = try fds.socketPair()
                try selector.register(other, events: .read, handler: ignoreEvents)
                switch backend {
                case .epoll, .kqueue:
                    expectSelectorError(.register, fd: closed, .system(.badFileDescriptor)) {
                        try selector.register(closed, events: .read, handler: ignoreEvents)
                    }
                    try expectNoKeyLeft(selector, closed, count: 1)
                    let (reader, writer) = try fds.pipe()
                    try fds.duplicate(reader, onto: closed)
                    try expectLaterRegistrationWorks(selector, closed) { try writeAll(writer, "x") }
                case .poll, .select, .uring:
                    try selector.register(closed, events: [.read, .write], handler: ignoreEvents)
                    #expect(
                        try selector.readyEntries(timeout: .seconds(5)) == [
                            ReadyEntry(fd: closed, events: .all)
                        ])
                    try selector.unregister(closed)
                    try expectNoKeyLeft(selector, closed, count: 1)
                case .scripted:
                    Issue.record("a kernel test ran on the scripted backend (not in Backend.available)")
                }
            }
        }
    }

    // epoll refuses regular files because they are always ready; poll and select accept
    // them and say so on every wait.
    @Test(arguments: Backend.available)
    func regularFileIsRefusedByEpollAndAlwaysReadyForPollAndSelect(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let file = try fds.regularFile()
            switch backend {
            case .epoll:
                expectSelectorError(.register, fd: file, .system(.notPermitted)) {
                    try selector.register(file, events: .read, handler: ignoreEvents)
                }
                try expectNoKeyLeft(selector, file, count: 0)
                // Same number, now a pipe: the failed attempt left nothing in the way.
                let (reader, writer) = try fds.pipe()
                try fds.duplicate(reader, onto: file)
                try expectLaterRegistrationWorks(selector, file) { try writeAll(writer, "x") }
            default:
                try selector.register(file, events: [.read, .write], handler: ignoreEvents)
                for _ in 0..<3 {
                    #expect(
                        try selector.readyEntries(timeout: .seconds(5)) == [
                            ReadyEntry(fd: file, events: .all)
                        ])
                }
            }
        }
    }

    // Linux's select(2) takes bitmaps of any size, so the select backend watches fds above
    // FD_SETSIZE there; where the kernel stops at FD_SETSIZE (`capabilities.descriptorLimit`),
    // such an fd is refused at register time with a hint instead of corrupting memory.
    @Test(arguments: Backend.available)
    func descriptorAboveFDSetSizeIsWatchedUnlessTheBackendHasALimitWhichRefusesItWithAHint(backend: Backend)
        throws
    {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (reader, writer) = try fds.pipe()
            let large = try fds.duplicate(reader, atLeast: 1_500)
            if let limit = backend.capabilities.descriptorLimit {
                guard
                    let error = selectorError({
                        try selector.register(large, events: .read, handler: ignoreEvents)
                    })
                else { return }
                #expect(error == SelectorError(.register, fd: large, .descriptorTooLarge(limit: limit)))
                #expect(error.description.contains("register(fd: \(large))"))
                #expect(error.description.contains("FD_SETSIZE"))
                #expect(error.description.contains("epoll"))
                #expect(error.description.contains("poll"))
                try expectNoKeyLeft(selector, large, count: 0)
            } else {
                try selector.register(large, events: .read, handler: ignoreEvents)
                try writeAll(writer, "x")
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: large, events: .read)])
            }
        }
    }
}

/// A refused registration must leave the selector exactly as it was.
private func expectNoKeyLeft(
    _ selector: Selector, _ fd: Int32, count: Int, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    expectSelectorError(.key, fd: fd, .notRegistered, sourceLocation: sourceLocation) {
        try selector.key(for: fd)
    }
    let keys = try selector.keys
    #expect(keys[fd] == nil, sourceLocation: sourceLocation)
    #expect(keys.count == count, sourceLocation: sourceLocation)
    #expect(selector.count == count, sourceLocation: sourceLocation)
}

/// After a refusal, a valid registration of the same number works: it is accepted and
/// reports read readiness once `makeReadable` has run.
private func expectLaterRegistrationWorks(
    _ selector: Selector, _ fd: Int32, sourceLocation: SourceLocation = #_sourceLocation,
    makeReadable: () throws -> Void
) throws {
    let before = selector.count
    try selector.register(fd, events: .read, handler: ignoreEvents)
    #expect(selector.count == before + 1, sourceLocation: sourceLocation)
    #expect(try selector.key(for: fd).events == .read, sourceLocation: sourceLocation)
    try makeReadable()
    let entries = try selector.readyEntries(timeout: .seconds(5))
    #expect(entries.contains(ReadyEntry(fd: fd, events: .read)), "\(entries)", sourceLocation: sourceLocation)
}
