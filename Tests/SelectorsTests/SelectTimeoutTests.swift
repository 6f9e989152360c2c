import CSelectors
import Selectors
import Testing

@Suite struct SelectTimeoutTests {
    @Test(arguments: Backend.available)
    func nilTimeoutBlocksUntilAnotherThreadMakesTheDescriptorReady(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            let entries = try withDeadline(.seconds(10), onExpiry: { try? writeAll(right, "rescue") }) {
                try withBackgroundThread({
                    sleep(for: .milliseconds(50))
                    try? writeAll(right, "x")
                }) {
                    try selector.readyEntries(timeout: nil)
                }
            }
            #expect(entries == [ReadyEntry(fd: left, events: .read)])
            #expect(try readAvailable(left) == Array("x".utf8))
        }
    }

    // A rescue write after the deadline would turn a hang into a visible failure: if the
    // call blocked, it returns the rescue event instead of nothing.
    @Test(arguments: Backend.available)
    func zeroOrNegativeTimeoutDoesNotBlock(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            let timeouts: [Duration] = [
                .zero, .nanoseconds(-1), .milliseconds(-5), .seconds(-1), .seconds(Int64.min),
            ]
            for timeout in timeouts {
                let entries = try withDeadline(.seconds(10), onExpiry: { try? writeAll(right, "rescue") }) {
                    try selector.readyEntries(timeout: timeout)
                }
                #expect(entries == [], "timeout \(timeout)")
            }
        }
    }

    @Test(arguments: Backend.available)
    func zeroOrNegativeTimeoutStillReportsReadyEvents(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            try writeAll(right, "x")
            for timeout: Duration in [.zero, .milliseconds(-1)] {
                #expect(try selector.readyEntries(timeout: timeout) == [ReadyEntry(fd: left, events: .read)])
            }
        }
    }

    @Test(arguments: Backend.available)
    func positiveTimeoutWaitsAtLeastThatLong(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, _) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            for timeout: Duration in [.milliseconds(20), .microseconds(1_500), .nanoseconds(1)] {
                let (entries, elapsed) = try measure { try selector.readyEntries(timeout: timeout) }
                #expect(entries == [])
                #expect(elapsed >= timeout, "asked for \(timeout), waited \(elapsed)")
            }
        }
    }

    // poll and epoll_wait take milliseconds: truncating 0.3 ms to 0 would turn the wait into
    // a loop of non-blocking polls until the time is up, so each call must also have slept.
    @Test(arguments: Backend.available)
    func subMillisecondTimeoutIsNotRoundedDownToZero(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, _) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            let timeout = Duration.microseconds(300)
            for _ in 0..<20 {
                let sleepsBefore = voluntaryContextSwitches()
                let (entries, elapsed) = try measure { try selector.readyEntries(timeout: timeout) }
                #expect(entries == [])
                #expect(elapsed >= timeout, "asked for \(timeout), waited \(elapsed)")
                #expect(voluntaryContextSwitches() > sleepsBefore, "spun instead of sleeping")
            }
        }
    }

    @Test(arguments: Backend.available)
    func emptySelectorStillWaitsForTheTimeout(backend: Backend) throws {
        let selector = try Selector(backend: backend)
        for timeout: Duration in [.milliseconds(20), .microseconds(300)] {
            let (entries, elapsed) = try measure { try selector.readyEntries(timeout: timeout) }
            #expect(entries == [])
            #expect(elapsed >= timeout, "asked for \(timeout), waited \(elapsed)")
        }
    }

    @Test(arguments: Backend.available)
    func signalInterruptionIsRetriedForTheRemainingTime(backend: Backend) throws {
        InterruptingSignal.install()
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, _) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            let selecting = currentThread()
            let deliveredBefore = InterruptingSignal.deliveries
            let timeout = Duration.milliseconds(300)
            let (entries, elapsed) = try InterruptingSignal.withUnblocked {
                try withBackgroundThread({
                    sleep(for: .milliseconds(50))
                    InterruptingSignal.send(to: selecting)
                }) {
                    try measure { try selector.readyEntries(timeout: timeout) }
                }
            }
            #expect(InterruptingSignal.deliveries > deliveredBefore, "the signal never arrived")
            #expect(entries == [])
            #expect(elapsed >= timeout, "asked for \(timeout), waited \(elapsed)")
        }
    }

    // With no timeout there is no "remaining time" to stop at: the wait must go on until an
    // event arrives rather than return an empty batch the caller did not ask for.
    @Test(arguments: Backend.available)
    func signalInterruptionDoesNotEndABlockingSelect(backend: Backend) throws {
        InterruptingSignal.install()
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            let selecting = currentThread()
            let deliveredBefore = InterruptingSignal.deliveries
            let entries = try withDeadline(.seconds(10), onExpiry: { try? writeAll(right, "rescue") }) {
                try InterruptingSignal.withUnblocked {
                    try withBackgroundThread({
                        sleep(for: .milliseconds(50))
                        InterruptingSignal.send(to: selecting)
                        sleep(for: .milliseconds(100))
                        try? writeAll(right, "x")
                    }) {
                        try selector.readyEntries(timeout: nil)
                    }
                }
            }
            #expect(InterruptingSignal.deliveries > deliveredBefore, "the signal never arrived")
            #expect(entries == [ReadyEntry(fd: left, events: .read)])
        }
    }

    // 2^63 seconds overflows any nanosecond or millisecond count; clamped, it is a long wait
    // that an event still ends.
    @Test(arguments: Backend.available)
    func hugeTimeoutIsClampedAndStillEndsOnAnEvent(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            let entries = try withDeadline(.seconds(10), onExpiry: { try? writeAll(right, "rescue") }) {
                try withBackgroundThread({
                    sleep(for: .milliseconds(50))
                    try? writeAll(right, "x")
                }) {
                    try selector.readyEntries(timeout: .seconds(Int64.max))
                }
            }
            #expect(entries == [ReadyEntry(fd: left, events: .read)])
            #expect(try readAvailable(left) == Array("x".utf8))
        }
    }
}
