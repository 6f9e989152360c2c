import CSelectors
import Selectors
import Testing

/// Trigger modes meeting the rest of the contract: the stale-event guard, `modify` while a
/// batch is being dispatched, and write interest toggled the way the seed's edge-triggered
/// server toggles it. As in StaleEventTests, both fds are ready in one batch and the order
/// within a batch is the backend's, so each handler acts only if it runs first.
@Suite struct TriggerInteractionTests {
    // Every handler drains its own fd, so what the next wait reports is only the new
    // registration, which in every mode reports what is ready at its first wait.
    @Test(arguments: Backend.available, Trigger.allCases)
    func handlerThatReregistersAnotherDescriptorInAnyModeDoesNotHandItTheOldEvent(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            let (first, firstPeer) = try fds.socketPair()
            let (second, secondPeer) = try fds.socketPair()
            try writeAll(firstPeer, "1")
            try writeAll(secondPeer, "2")
            var ran: [String] = []
            var acted = false
            for (fd, other) in [(first, second), (second, first)] {
                try selector.register(fd, events: .read, trigger: trigger) { [unowned selector] fd, _ in
                    ran.append("old \(fd)")
                    _ = try? drain(fd)
                    guard !acted else { return }
                    acted = true
                    _ = try? selector.unregister(other)
                    _ = try? selector.register(other, events: .read, trigger: trigger) { fd, _ in
                        ran.append("new \(fd)")
                    }
                }
            }
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(ran.count == 1)
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(ran.count == 2)
            #expect(ran.last?.hasPrefix("new") == true, "\(ran)")
        }
    }

    // The other fd's event in this batch came from its previous arming; the re-arm mid-batch
    // does not swallow it, and reports the still-unread data once more at the next wait.
    @Test(arguments: Backend.available)
    func handlerThatRearmsAnotherOneShotDescriptorMidBatchStillReceivesItsPendingEvent(backend: Backend)
        throws
    {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            let (first, firstPeer) = try fds.socketPair()
            let (second, secondPeer) = try fds.socketPair()
            try writeAll(firstPeer, "1")
            try writeAll(secondPeer, "2")
            var ran: [Int32] = []
            var rearmed: Int32?
            for (fd, other) in [(first, second), (second, first)] {
                try selector.register(fd, events: .read, trigger: .oneShot) { [unowned selector] fd, _ in
                    ran.append(fd)
                    guard rearmed == nil else { return }
                    rearmed = other
                    _ = try? selector.modify(other, events: .read)
                }
            }
            #expect(try selector.dispatch(timeout: .seconds(5)) == 2)
            #expect(Set(ran) == [first, second])
            ran = []
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(ran == [rearmed].compactMap { $0 })
            #expect(try selector.dispatch(timeout: .milliseconds(20)) == 0)
        }
    }

    // A handler narrows the other fd's interest to .write: the read event the kernel
    // reported is masked away whatever the mode, and the new write interest is reported next.
    @Test(arguments: Backend.available, Trigger.allCases)
    func handlerThatNarrowsAnotherInterestMidBatchMasksItsPendingEventInAnyMode(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            let (first, firstPeer) = try fds.socketPair()
            let (second, secondPeer) = try fds.socketPair()
            try writeAll(firstPeer, "1")
            try writeAll(secondPeer, "2")
            var ran: [String] = []
            var narrowed: Int32?
            for (fd, other) in [(first, second), (second, first)] {
                try selector.register(fd, events: .read, trigger: trigger) { [unowned selector] fd, events in
                    ran.append("\(fd) \(events)")
                    _ = try? drain(fd)
                    guard narrowed == nil else { return }
                    narrowed = other
                    _ = try? selector.modify(other, events: .write)
                }
            }
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(ran.count == 1)
            guard let narrowed else { return }
            #expect(
                try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: narrowed, events: .write)])
        }
    }

    // A handler switches the other fd from level to one-shot mid-batch: its pending event is
    // delivered (same events), the switch arms it once, and after that it is silent.
    @Test(arguments: Backend.available)
    func handlerThatSwitchesAnotherDescriptorToOneShotMidBatch(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            let (first, firstPeer) = try fds.socketPair()
            let (second, secondPeer) = try fds.socketPair()
            var ran: [Int32] = []
            var switched: Int32?
            for (fd, other) in [(first, second), (second, first)] {
                try selector.register(fd, events: .read) { [unowned selector] fd, _ in
                    ran.append(fd)
                    _ = try? drain(fd)
                    guard switched == nil else { return }
                    switched = other
                    _ = try? selector.modify(other, events: .read, trigger: .oneShot)
                }
            }
            for round in 0..<3 {
                try writeAll(firstPeer, "1")
                try writeAll(secondPeer, "2")
                ran = []
                let expected = round < 2 ? 2 : 1
                #expect(try selector.dispatch(timeout: .seconds(5)) == expected, "round \(round)")
                #expect(ran.count == expected, "round \(round)")
            }
            guard let switched else { return }
            #expect(try selector.key(for: switched).trigger == .oneShot)
            #expect(!ran.contains(switched))
        }
    }

    // The seed's edge-triggered echo server: read until EAGAIN, then watch .write for the
    // reply, then .read again. Each modify re-arms, so in every mode each step is reported
    // exactly when it is due and nothing is reported in between.
    @Test(arguments: Backend.available, Trigger.allCases)
    func writeInterestToggledWithModifyReportsEachStepWhenItIsDue(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (server, client) = try fds.socketPair()
            try selector.register(server, events: .read, trigger: trigger, handler: ignoreEvents)
            for round in 0..<3 {
                try writeAll(client, "request \(round)")
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: server, events: .read)]
                )
                let request = try drain(server)
                #expect(request == Array("request \(round)".utf8))

                try selector.modify(server, events: .write)
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [
                        ReadyEntry(fd: server, events: .write)
                    ])
                try writeAll(server, request)
                try selector.modify(server, events: .read)
                #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
                #expect(try drain(client) == request)
            }
        }
    }
}
