import CSelectors
import Selectors
import Testing

@Suite struct ModifyTests {
    @Test(arguments: Backend.available, Trigger.allCases)
    func modifyToNewEventsChangesWhatSelectReports(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try writeAll(right, "x")
            try selector.register(left, events: .write, trigger: trigger, handler: ignoreEvents)
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

    @Test(arguments: Backend.available, Trigger.allCases)
    func modifyWithoutAHandlerKeepsTheOldHandler(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            var calls: [String] = []
            try selector.register(left, events: .write, trigger: trigger) { _, events in
                calls.append("original \(events)")
            }
            try selector.modify(left, events: .read)
            try writeAll(right, "x")
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(calls == ["original [read]"])
            try selector.key(for: left).handler(left, .write)
            #expect(calls == ["original [read]", "original [write]"])
        }
    }

    @Test(arguments: Backend.available, Trigger.allCases)
    func modifyWithANewHandlerInstallsItForTheNextEvents(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            var calls: [String] = []
            try selector.register(left, events: .read, trigger: trigger) { _, _ in calls.append("old") }
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
    // select make no system call in modify at all, so they must succeed as well. (One-shot
    // is the exception: every modify re-arms; see the next test.)
    @Test(arguments: Backend.available, [Trigger.level, .edge])
    func handlerOnlyModifyMakesNoSystemCall(backend: Backend, trigger: Trigger) async throws {
        try await FixedDescriptorNumbers.withClosedNumber { number in
            try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                let (reader, _) = try fds.pipe()
                try fds.duplicate(reader, onto: number)
                fds.close(reader)
                var calls: [String] = []
                try selector.register(number, events: .read, trigger: trigger) { _, _ in calls.append("old") }
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

    // Re-arming is what modify is for on a one-shot key, so even unchanged events reach the
    // kernel: on the closed fd epoll says EBADF, and the key goes as for any rejected modify.
    // uring re-arms natively too, but with the next wait (which then reports the closed fd),
    // so like the emulations its modify succeeds.
    @Test(arguments: Backend.available)
    func oneShotModifyWithUnchangedEventsReachesTheKernelToRearm(backend: Backend) async throws {
        try await FixedDescriptorNumbers.withClosedNumber { number in
            try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                let (reader, _) = try fds.pipe()
                try fds.duplicate(reader, onto: number)
                fds.close(reader)
                try selector.register(number, events: .read, trigger: .oneShot, handler: ignoreEvents)
                fds.close(number)
                switch backend.capabilities.oneShot {
                case .native where backend != .uring:
                    expectSelectorError(.modify, fd: number, .system(.badFileDescriptor)) {
                        try selector.modify(number, events: .read)
                    }
                    #expect(selector.count == 0)
                case .native, .emulated:
                    #expect(try selector.modify(number, events: .read).trigger == .oneShot)
                    try selector.unregister(number)
                }
            }
        }
    }

    @Test(arguments: Backend.available, Trigger.allCases)
    func modifyRejectedByTheKernelRemovesTheKey(backend: Backend, trigger: Trigger) async throws {
        try await FixedDescriptorNumbers.withClosedNumber { number in
            try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                let (reader, _) = try fds.pipe()
                try fds.duplicate(reader, onto: number)
                fds.close(reader)
                try selector.register(number, events: .read, trigger: trigger, handler: ignoreEvents)
                fds.close(number)

                switch backend {
                case .epoll, .kqueue:
                    expectSelectorError(.modify, fd: number, .system(.badFileDescriptor)) {
                        try selector.modify(number, events: .write)
                    }
                    expectSelectorError(.key, fd: number, .notRegistered) { try selector.key(for: number) }
                    #expect(selector.count == 0)
                    #expect(try selector.readyEntries(timeout: .zero) == [])
                case .poll, .select, .uring:
                    // Nothing asks the kernel until the wait, which reports the closed fd
                    // as ready so its handler finds out (uring: the poll fails with EBADF).
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

    @Test(arguments: Backend.available, Trigger.allCases)
    func modifyWithInvalidEventsIsRefusedAndKeepsTheKey(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, trigger: trigger, handler: ignoreEvents)
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
