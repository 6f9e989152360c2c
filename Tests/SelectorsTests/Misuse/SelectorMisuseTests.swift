import CSelectors
import Selectors
import Synchronization
import Testing

/// Misuse of `Selector`: absurd fds and events, closed fds, absurd timeouts, a closed selector, re-entrant handlers. See `Misuse`.
@Suite(.timeLimit(.minutes(2)))
struct SelectorMisuseTests {
    @Test(arguments: Backend.available)
    func selectorRefusesNegativeAndImpossibleDescriptorsWithoutKeepingAnything(backend: Backend) throws {
        let selector = try Selector(backend: backend)
        defer { selector.close() }
        for fd in [Int32.min, Int32.min + 1, -1] {
            expectSelectorError(.register, fd: fd, .negativeDescriptor) {
                try selector.register(fd, events: .read) { _, _ in }
            }
            expectSelectorError(.modify, fd: fd, .negativeDescriptor) {
                try selector.modify(fd, events: .read)
            }
            expectSelectorError(.unregister, fd: fd, .notRegistered) { try selector.unregister(fd) }
            expectSelectorError(.key, fd: fd, .notRegistered) { try selector.key(for: fd) }
        }
        for fd in Misuse.impossibleDescriptors {
            let error = selectorError { try selector.register(fd, events: .read) { _, _ in } }
            #expect(error?.operation == .register && error?.fd == fd, "\(String(describing: error))")
            expectSelectorError(.modify, fd: fd, .notRegistered) { try selector.modify(fd, events: .read) }
            expectSelectorError(.unregister, fd: fd, .notRegistered) { try selector.unregister(fd) }
            expectSelectorError(.key, fd: fd, .notRegistered) { try selector.key(for: fd) }
        }
        #expect(selector.count == 0)
        #expect(try selector.keys.isEmpty)
        #expect(try selector.readyEntries(timeout: .zero) == [])
    }

    @Test(arguments: Backend.available)
    func selectorRefusesInvalidEventBitsAndKeepsTheRegistration(backend: Backend) throws {
        try withDescriptors { fds in
            let (fd, _) = try fds.socketPair()
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            for events in Misuse.invalidEvents {
                expectSelectorError(.register, fd: fd, .invalidEvents(events)) {
                    try selector.register(fd, events: events) { _, _ in }
                }
            }
            #expect(selector.count == 0)
            try selector.register(fd, events: .write) { _, _ in }
            for events in Misuse.invalidEvents {
                expectSelectorError(.modify, fd: fd, .invalidEvents(events)) {
                    try selector.modify(fd, events: events)
                }
            }
            #expect(try selector.key(for: fd).events == .write, "a refused modify changes nothing")
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: fd, events: .write)])
        }
    }

    /// A closed fd and a regular file: refused by the kernels that refuse them, and whatever
    /// happens, nothing crashes and the selector goes on working.
    @Test(arguments: Backend.available)
    func selectorSurvivesClosedDescriptorsAndRegularFiles(backend: Backend) async throws {
        try await FixedDescriptorNumbers.withClosedNumber { closed in
            try withDescriptors { fds in
                let file = try fds.regularFile()
                let (other, _) = try fds.socketPair()
                let selector = try Selector(backend: backend)
                defer { selector.close() }
                for fd in [closed, file] {
                    do throws(SelectorError) {
                        try selector.register(fd, events: .all) { _, _ in }
                        _ = try selector.readyEntries(timeout: .zero)
                        try selector.unregister(fd)
                    } catch {
                        #expect(error.operation == .register && error.fd == fd, "\(error)")
                    }
                }
                try selector.register(other, events: .write) { _, _ in }
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: other, events: .write)]
                )
            }
        }
    }

    /// Every absurd timeout returns at once when something is ready, and an already-past or
    /// zero one returns at once when nothing is.
    @Test(arguments: Backend.available)
    func selectorTakesAbsurdTimeouts(backend: Backend) throws {
        try withDescriptors { fds in
            let (quiet, _) = try fds.socketPair()
            let (ready, _) = try fds.socketPair()
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            try selector.register(quiet, events: .read) { _, _ in }
            for timeout in Misuse.absurdDurations where timeout <= .zero {
                let start = ContinuousClock.now
                #expect(try selector.readyEntries(timeout: timeout) == [])
                #expect(ContinuousClock.now - start < .seconds(5), "\(timeout) blocked")
            }
            try selector.register(ready, events: .write) { _, _ in }
            for timeout in Misuse.absurdDurations + [nil] {
                #expect(
                    try selector.readyEntries(timeout: timeout) == [ReadyEntry(fd: ready, events: .write)])
            }
        }
    }

    @Test(arguments: Backend.available)
    func aClosedSelectorRefusesEverythingAndClosesTwice(backend: Backend) throws {
        try withDescriptors { fds in
            let (fd, _) = try fds.socketPair()
            let selector = try Selector(backend: backend)
            try selector.register(fd, events: .read) { _, _ in }
            selector.close()
            selector.close()
            for number in [fd, -1, Int32.max] {
                expectSelectorError(.register, fd: number, .selectorClosed) {
                    try selector.register(number, events: .read) { _, _ in }
                }
                expectSelectorError(.modify, fd: number, .selectorClosed) {
                    try selector.modify(number, events: .read)
                }
                expectSelectorError(.unregister, fd: number, .selectorClosed) {
                    try selector.unregister(number)
                }
                expectSelectorError(.key, fd: number, .selectorClosed) { try selector.key(for: number) }
            }
            expectSelectorError(.select, fd: nil, .selectorClosed) { try selector.select(timeout: .zero) }
            expectSelectorError(.keys, fd: nil, .selectorClosed) { try selector.keys }
            #expect(selector.count == 0)
        }
    }

    /// A handler that closes the selector in the middle of a batch, or selects again, ends
    /// the batch cleanly.
    @Test(arguments: Backend.available)
    func handlersMayCloseTheSelectorOrSelectAgainMidBatch(backend: Backend) throws {
        try withDescriptors { fds in
            let (a, _) = try fds.socketPair()
            let (b, _) = try fds.socketPair()
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            var nested = 0
            try selector.register(a, events: .write) { _, _ in
                nested += (try? selector.readyEntries(timeout: .zero).count) ?? 0
            }
            try selector.register(b, events: .write) { _, _ in
                nested += (try? selector.readyEntries(timeout: .zero).count) ?? 0
            }
            _ = try selector.dispatch(timeout: .seconds(5))
            #expect(nested >= 2)
            var ran = 0
            try selector.modify(
                a, events: .write,
                handler: { _, _ in
                    ran += 1
                    selector.close()
                })
            try selector.modify(
                b, events: .write,
                handler: { _, _ in
                    ran += 1
                    selector.close()
                })
            _ = try selector.dispatch(timeout: .seconds(5))
            #expect(ran == 1, "the batch ends with the selector")
            #expect(selector.isClosed)
        }
    }
}
