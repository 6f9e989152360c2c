#if os(Linux)
    import CSelectors
    import Selectors
    import Testing

    /// Completions of polls that `modify`, `unregister` or a new registration of the same
    /// number replaced: the kernel may still deliver them (one already running when the
    /// removal arrives is not stopped), and the backend must drop them by their arm tag.
    @Suite(requiresUring) struct UringStaleCompletionTests {
        // The modify's removal reaches the old multishot poll while its wake-up is queued, with
        // the wake-up's .read although the data was read since: the old poll then completes
        // (-ECANCELED, or with that .read were it removed with IORING_OP_POLL_REMOVE, which
        // fails with EALREADY there). The new poll sees only .write. Nothing of the old poll
        // may surface, now or later.
        @Test func completionOfAPollAModifyReplacedWhileItsWakeUpWasQueuedIsDropped() throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let (left, right) = try fds.socketPair()
                try selector.register(left, events: .read, trigger: .edge, handler: ignoreEvents)
                #expect(try selector.readyEntries(timeout: .zero) == [])  // armed, nothing ready
                try writeAll(right, "queued wake-up")
                #expect(try drain(left) == Array("queued wake-up".utf8))
                try selector.modify(left, events: .all)
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .write)])
                #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
                try selector.modify(left, events: .write)
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .write)])
                // More data wakes whatever poll is left on the socket: nothing may report .read.
                for round in 0..<3 {
                    try writeAll(right, "more \(round)")
                    #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [], "round \(round)")
                }
            }
        }

        // A handler unregisters and re-registers the other fd of the batch: that fd's pending
        // entry belongs to the old registration (dropped by generation), and what its old
        // multishot poll completes later (dropped by tag) never reaches the new registration.
        @Test func reRegisteringAnFdMidBatchDropsTheOldPollsCompletions() throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let (first, firstPeer) = try fds.socketPair()
                let (second, secondPeer) = try fds.socketPair()
                var calls: [String] = []
                var replaced = false
                func handler(other: Int32, otherPeer: Int32) -> SelectorHandler {
                    { fd, _ in
                        calls.append("old \(fd)")
                        _ = try? drain(fd)
                        guard !replaced else { return }
                        replaced = true
                        _ = try? selector.unregister(other)
                        _ = try? selector.register(other, events: .write, trigger: .oneShot) { fd, events in
                            calls.append("new \(fd) \(events)")
                        }
                        try? writeAll(otherPeer, "wakes the old poll")
                    }
                }
                try selector.register(
                    first, events: .read, trigger: .edge,
                    handler: handler(other: second, otherPeer: secondPeer))
                try selector.register(
                    second, events: .read, trigger: .edge,
                    handler: handler(other: first, otherPeer: firstPeer))
                try writeAll(firstPeer, "x")
                try writeAll(secondPeer, "y")
                #expect(
                    try selector.dispatch(timeout: .seconds(5)) == 1, "the replaced fd's entry is dropped")
                let ran = calls.first ?? ""
                let other = ran == "old \(first)" ? second : first
                #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
                #expect(try selector.dispatch(timeout: .milliseconds(20)) == 0)
                #expect(calls == [ran, "new \(other) [write]"], "\(calls)")
            }
        }

        // Unregister and register the same number before any wait: one wait submits the old
        // poll's removal and the new poll together, removal first.
        @Test func unregisterAndRegisterAgainBeforeTheWaitReportsOnlyTheNewInterest() throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let (left, right) = try fds.socketPair()
                try selector.register(left, events: .read, handler: ignoreEvents)
                #expect(try selector.readyEntries(timeout: .zero) == [])
                try writeAll(right, "x")
                try selector.unregister(left)
                try selector.register(left, events: .write, handler: ignoreEvents)
                for _ in 0..<3 {
                    #expect(
                        try selector.readyEntries(timeout: .seconds(5)) == [
                            ReadyEntry(fd: left, events: .write)
                        ])
                }
            }
        }

        // Many changes to one fd between waits: each wait submits one removal and one poll,
        // and reports the last interest only, once.
        @Test func manyModifiesBetweenWaitsEndInOneReportOfTheLastInterest() throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let (left, right) = try fds.socketPair()
                try writeAll(right, "x")
                try selector.register(left, events: .read, trigger: .edge, handler: ignoreEvents)
                for round in 0..<20 {
                    let events: Events = round.isMultiple(of: 2) ? .write : .all
                    try selector.modify(
                        left, events: events, trigger: round.isMultiple(of: 3) ? .level : .edge)
                    try selector.modify(left, events: .read)
                    let entries = try selector.readyEntries(timeout: .seconds(5))
                    #expect(entries == [ReadyEntry(fd: left, events: .read)], "round \(round)")
                }
            }
        }
    }
#endif
