import CSelectors
import Selectors
import Testing

/// Handlers that change other registrations while a batch is being dispatched. Both fds are
/// ready in the same batch; the order within a batch is the backend's, so each handler is
/// written to act only if it runs first.
@Suite struct StaleEventTests {
    @Test(arguments: Backend.available, Trigger.allCases)
    func handlerThatUnregistersAnotherReadyDescriptorStopsItsPendingEvent(backend: Backend, trigger: Trigger)
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
            for (fd, other) in [(first, second), (second, first)] {
                try selector.register(fd, events: .read, trigger: trigger) { [unowned selector] fd, _ in
                    ran.append(fd)
                    _ = try? selector.unregister(other)
                }
            }
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(ran.count == 1)
            #expect(selector.count == 1)
        }
    }

    // Unregister then register again gives the same fd a new generation: the event the
    // kernel reported for the old registration belongs to it alone.
    @Test(arguments: Backend.available)
    func handlerThatReregistersAnotherDescriptorDoesNotHandItTheOldEvent(backend: Backend) throws {
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
                try selector.register(fd, events: .read) { [unowned selector] fd, _ in
                    ran.append("old \(fd)")
                    guard !acted else { return }
                    acted = true
                    _ = try? selector.unregister(other)
                    _ = try? selector.register(other, events: .read) { fd, _ in ran.append("new \(fd)") }
                }
            }
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(ran.count == 1)
            // Still readable, so the new registration hears about it from the next wait.
            #expect(try selector.dispatch(timeout: .seconds(5)) == 2)
            #expect(ran.count == 3)
            #expect(ran.filter { $0.hasPrefix("new") }.count == 1)
        }
    }

    // dup2 closes the old file and opens another at the same number in one step, so no
    // concurrently running test can take the number in between. The new file is an empty
    // pipe: any read event reaching its handler in this batch was meant for the old file.
    @Test(arguments: Backend.available, Trigger.allCases)
    func handlerThatReplacesTheFileBehindAnotherNumberNeverHandsTheNewFileAnOldEvent(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            let (first, firstPeer) = try fds.socketPair()
            let (second, secondPeer) = try fds.socketPair()
            let (freshReader, freshWriter) = try fds.pipe()
            try writeAll(firstPeer, "1")
            try writeAll(secondPeer, "2")
            var ran: [String] = []
            var replaced: Int32?
            for (fd, other) in [(first, second), (second, first)] {
                try selector.register(fd, events: .read, trigger: trigger) {
                    [unowned selector, unowned fds] fd, _ in
                    ran.append("old \(fd)")
                    _ = try? readAvailable(fd)
                    guard replaced == nil else { return }
                    replaced = other
                    _ = try? selector.unregister(other)
                    try? fds.duplicate(freshReader, onto: other)
                    _ = try? selector.register(other, events: .read, trigger: trigger) { fd, _ in
                        ran.append("new \(fd)")
                    }
                }
            }
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(ran.count == 1)
            guard let replaced else { return }
            #expect(try selector.dispatch(timeout: .milliseconds(20)) == 0)
            try writeAll(freshWriter, "fresh")
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(ran.last == "new \(replaced)")
        }
    }

    @Test(arguments: Backend.available)
    func handlerThatNarrowsAnotherInterestMasksItsPendingEvent(backend: Backend) throws {
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
                try selector.register(fd, events: .read) { [unowned selector] fd, events in
                    ran.append("\(fd) \(events)")
                    guard !acted else { return }
                    acted = true
                    _ = try? selector.modify(other, events: .write)
                }
            }
            // The kernel reported the other fd readable; it now wants only write, which the
            // kernel did not report in this batch, so its handler must not run.
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(ran.count == 1)
        }
    }

    // The ready buffer grows with the number of registrations; growing it while a batch is
    // being dispatched must not drop the rest of that batch.
    @Test(arguments: Backend.available)
    func handlerThatRegistersMoreDescriptorsMidBatchDoesNotCutTheBatchShort(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            let (extraReader, _) = try fds.pipe()
            var ran = 0
            var registeredExtra = false
            let count = 64
            for _ in 0..<count {
                let (_, writer) = try fds.pipe()
                try selector.register(writer, events: .write) { [unowned selector] _, _ in
                    ran += 1
                    guard !registeredExtra else { return }
                    registeredExtra = true
                    _ = try? selector.register(extraReader, events: .read, handler: ignoreEvents)
                }
            }
            #expect(try selector.dispatch(timeout: .seconds(5)) == count)
            #expect(ran == count)
            #expect(selector.count == count + 1)
        }
    }
}
