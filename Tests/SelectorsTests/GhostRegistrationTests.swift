import CSelectors
import Selectors
import Testing

/// The ghost registration: register fd A while another descriptor refers to the same open
/// file (a `dup`, or a forked child), close A, then unregister it. epoll's interest list holds
/// files, not numbers, so `EPOLL_CTL_DEL` fails with `EBADF` and the kernel keeps reporting
/// the file under the dead number. The selector used to return every positive-timeout wait at
/// once and empty, and an event loop spun at 100% CPU. Other backends cannot keep a ghost;
/// the same checks run on them.
@Suite struct GhostRegistrationTests {
    @Test(arguments: Backend.available)
    func ghostOfAClosedDescriptorWithALiveDupDoesNotEndTimedWaitsEarly(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            let (ghost, ghostPeer) = try fds.socketPair()
            // Readable and writable, so the ghost would be ready on every wait.
            try writeAll(ghostPeer, "x")
            try selector.register(ghost, events: .all, handler: ignoreEvents)
            let (live, livePeer) = try fds.socketPair()
            try selector.register(live, events: .read, handler: ignoreEvents)
            _ = try fds.duplicate(ghost, atLeast: 0)
            fds.close(ghost)
            try selector.unregister(ghost)
            try expectNoGhostWakeUps(selector, live: live, livePeer: livePeer)
        }
    }

    @Test(arguments: Backend.available)
    func ghostOfAClosedDescriptorHeldByAForkedChildDoesNotEndTimedWaitsEarly(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            let (ghost, ghostPeer) = try fds.socketPair()
            try writeAll(ghostPeer, "x")
            try selector.register(ghost, events: .all, handler: ignoreEvents)
            let (live, livePeer) = try fds.socketPair()
            try selector.register(live, events: .read, handler: ignoreEvents)
            try withForkedChildHolding(ghost) {
                fds.close(ghost)
                try selector.unregister(ghost)
                try expectNoGhostWakeUps(selector, live: live, livePeer: livePeer)
            }
        }
    }

    // The number is reused and registered again: the ghost's events carry the old
    // generation, and the new registration still gets exactly its own events.
    @Test(arguments: Backend.available)
    func ghostDoesNotDisturbANewRegistrationOfItsNumber(backend: Backend) async throws {
        try await FixedDescriptorNumbers.withClosedNumber { number in
            try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                defer { selector.close() }
                let (original, originalPeer) = try fds.socketPair()
                try writeAll(originalPeer, "x")
                try fds.duplicate(original, onto: number)
                try selector.register(number, events: .all, handler: ignoreEvents)
                // dup2 of a fresh, empty pipe onto the number closes the registered file's
                // number while `original` keeps the file open.
                let (freshReader, freshWriter) = try fds.pipe()
                try fds.duplicate(freshReader, onto: number)
                try selector.unregister(number)
                try selector.register(number, events: .read, handler: ignoreEvents)
                let (entries, elapsed) = try measure { try selector.readyEntries(timeout: .milliseconds(30)) }
                #expect(entries == [])
                #expect(elapsed >= .milliseconds(30))
                try writeAll(freshWriter, "fresh")
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: number, events: .read)]
                )
            }
        }
    }

    // Found by the fuzzer: once the number names the ghost's own file again, EPOLL_CTL_ADD
    // fails with EEXIST, so an fd that is not registered could not be registered.
    @Test(arguments: Backend.available)
    func registerSucceedsWhenTheNumberNamesTheFileOfItsGhostAgain(backend: Backend) async throws {
        try await FixedDescriptorNumbers.withClosedNumber { number in
            try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                defer { selector.close() }
                let (original, originalPeer) = try fds.socketPair()
                try fds.duplicate(original, onto: number)
                try selector.register(number, events: .read, handler: ignoreEvents)
                fds.close(number)
                try selector.unregister(number)
                // No wait in between, so nothing has noticed the ghost yet.
                try fds.duplicate(original, onto: number)
                try selector.register(number, events: .read, handler: ignoreEvents)
                #expect(try selector.readyEntries(timeout: .zero) == [])
                try writeAll(originalPeer, "x")
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: number, events: .read)]
                )
            }
        }
    }

    // Found by the long fuzz run: epoll can hold two entries under one number, the ghost's
    // file and the live key's. Once the number names the ghost's file again, a modify
    // re-arms the ghost with the live key's token, and one select reported the fd twice.
    @Test(arguments: Backend.available)
    func ghostReArmedByAModifyDoesNotReportItsNumberTwice(backend: Backend) async throws {
        try await FixedDescriptorNumbers.withClosedNumber { number in
            try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                defer { selector.close() }
                let (_, firstWriter) = try fds.pipe()
                let (secondReader, secondWriter) = try fds.pipe()
                try fds.duplicate(firstWriter, onto: number)
                try selector.register(number, events: .all, handler: ignoreEvents)
                // The number now names the second pipe's read end; the first registration
                // cannot be removed any more, since its file is not at the number.
                try fds.duplicate(secondReader, onto: number)
                try writeAll(secondWriter, "x")
                try selector.unregister(number)
                try selector.register(number, events: .read, handler: ignoreEvents)
                // Back to the first pipe's write end, whose old entry the modify finds.
                try fds.duplicate(firstWriter, onto: number)
                try selector.modify(number, events: .all)
                let entries = try selector.readyEntries(timeout: .seconds(5))
                #expect(entries.filter { $0.fd == number }.count == 1, "\(entries)")
                #expect(try selector.readyEntries(timeout: .zero).filter { $0.fd == number }.count == 1)
            }
        }
    }

    /// A positive timeout waits at least that long and reports nothing; repeated waits over
    /// a bounded period return about as often as the timeout allows and use little CPU; the
    /// live registration still works after whatever the selector did about the ghost.
    private func expectNoGhostWakeUps(
        _ selector: Selector, live: Int32, livePeer: Int32, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let timeout = Duration.milliseconds(30)
        let (entries, elapsed) = try measure { try selector.readyEntries(timeout: timeout) }
        #expect(entries == [], sourceLocation: sourceLocation)
        #expect(elapsed >= timeout, "asked for \(timeout), waited \(elapsed)", sourceLocation: sourceLocation)

        let period = Duration.milliseconds(240)
        let cpuBefore = threadCPUTime()
        let end = monotonicNow() + period
        var returns = 0
        var reported = 0
        while monotonicNow() < end {
            reported += try selector.readyEntries(timeout: .milliseconds(20)).count
            returns += 1
        }
        let cpu = threadCPUTime() - cpuBefore
        #expect(reported == 0, sourceLocation: sourceLocation)
        // Each wait lasts at least 20 ms, so 240 ms hold at most 12 of them (13 with the one
        // that straddles the end); a spinning selector returned thousands of times.
        #expect(returns <= 13, "\(returns) returns in \(period)", sourceLocation: sourceLocation)
        // Generous: a selector that waits uses next to nothing.
        #expect(cpu < period / 2, "used \(cpu) of CPU in \(period)", sourceLocation: sourceLocation)
        #expect(try selector.readyEntries(timeout: .zero) == [], sourceLocation: sourceLocation)

        try writeAll(livePeer, "live")
        #expect(
            try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: live, events: .read)],
            sourceLocation: sourceLocation)
    }
}
