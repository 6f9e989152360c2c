import CSelectors
import Selectors
import Testing

@Suite struct ModifyTests {
    @Test(arguments: Backend.available)
    func modifyToNewEventsChangesWhatSelectReports(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try writeAll(right, "x")
            try selector.register(left, events: .write, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .write)])

            #expect(try selector.modify(left, events: .read).events == .read)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])

            try selector.modify(left, events: .all)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .all)])

            // Once the data is consumed, read interest alone reports nothing.
            _ = try readAvailable(left)
            try selector.modify(left, events: .read)
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
        }
    }

    @Test(arguments: Backend.available)
    func modifyWithoutAHandlerKeepsTheOldHandler(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            var calls: [String] = []
            try selector.register(left, events: .write) { _, events in calls.append("original \(events)") }
            try selector.modify(left, events: .read)
            try writeAll(right, "x")
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(calls == ["original [read]"])
            try selector.key(for: left).handler(left, .write)
            #expect(calls == ["original [read]", "original [write]"])
        }
    }

    @Test(arguments: Backend.available)
    func modifyWithANewHandlerInstallsItForTheNextEvents(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            var calls: [String] = []
            try selector.register(left, events: .read) { _, _ in calls.append("old") }
            let key = try selector.modify(left, events: .read) { _, _ in calls.append("new") }
            key.handler(left, .read)
            #expect(calls == ["new"])
            try writeAll(right, "x")
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(calls == ["new", "new"])
        }
    }

    // The fd is closed behind the selector's back, so any epoll_ctl on it fails with EBADF:
    // a handler-only modify succeeding there proves it never reached the kernel. poll and
    // select make no system call in modify at all, so they must succeed as well.
    @Test(arguments: Backend.available)
    func handlerOnlyModifyMakesNoSystemCall(backend: Backend) throws {
        try FixedDescriptorNumbers.withClosedNumber { number in
            try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                let (reader, _) = try fds.pipe()
                try fds.duplicate(reader, onto: number)
                fds.close(reader)
                var calls: [String] = []
                try selector.register(number, events: .read) { _, _ in calls.append("old") }
                fds.close(number)

                let key = try selector.modify(number, events: .read) { _, _ in calls.append("new") }
                #expect(key.events == .read)
                try selector.key(for: number).handler(number, .read)
                #expect(calls == ["new"])
                #expect(selector.count == 1)
                try selector.unregister(number)
            }
        }
    }

    @Test(arguments: Backend.available)
    func modifyRejectedByTheKernelRemovesTheKey(backend: Backend) throws {
        try FixedDescriptorNumbers.withClosedNumber { number in
            try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                let (reader, _) = try fds.pipe()
                try fds.duplicate(reader, onto: number)
                fds.close(reader)
                try selector.register(number, events: .read, handler: ignoreEvents)
                fds.close(number)

                switch backend {
                case .epoll, .kqueue:
                    expectSelectorError(.modify, fd: number, .system(.badDescriptor)) {
                        try selector.modify(number, events: .write)
                    }
                    expectSelectorError(.key, fd: number, .notRegistered) { try selector.key(for: number) }
                    #expect(selector.count == 0)
                    #expect(try selector.readyEntries(timeout: .zero) == [])
                case .poll, .select:
                    // Nothing asks the kernel until the wait, which reports the closed fd
                    // as ready so its handler finds out.
                    #expect(try selector.modify(number, events: .write).events == .write)
                    #expect(
                        try selector.readyEntries(timeout: .seconds(5)) == [
                            ReadyEntry(fd: number, events: .write)
                        ])
                    try selector.unregister(number)
                case .scripted:
                    Issue.record("a kernel test ran on the scripted backend (not in Backend.available)")
                }
            }
        }
    }

    @Test(arguments: Backend.available)
    func modifyOfAnUnknownDescriptorThrowsNotRegistered(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, _) = try fds.socketPair()
            expectSelectorError(.modify, fd: left, .notRegistered) {
                try selector.modify(left, events: .read)
            }
            expectSelectorError(.modify, fd: -3, .negativeDescriptor) {
                try selector.modify(-3, events: .read)
            }
            #expect(selector.count == 0)
        }
    }

    @Test(arguments: Backend.available)
    func modifyWithInvalidEventsIsRefusedAndKeepsTheKey(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            expectSelectorError(.modify, fd: left, .invalidEvents([])) {
                try selector.modify(left, events: [])
            }
            let unknown = Events(rawValue: 4)
            expectSelectorError(.modify, fd: left, .invalidEvents(unknown)) {
                try selector.modify(left, events: unknown)
            }
            #expect(try selector.key(for: left).events == .read)
            try writeAll(right, "x")
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
        }
    }
}
