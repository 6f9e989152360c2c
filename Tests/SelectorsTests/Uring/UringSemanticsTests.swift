#if os(Linux)
    import CSelectors
    import Selectors
    import Testing

    /// What is particular to io_uring polls: nanosecond timeouts, one issuer thread per ring,
    /// POLLRDHUP on every poll, and polls that hold their files.
    @Suite(requiresUring) struct UringSemanticsTests {
        // The timeout goes to io_uring_enter as a timespec (IORING_ENTER_EXT_ARG): at least
        // what was asked, and not rounded up to a millisecond as epoll_wait's is.
        @Test func timeoutsWaitAtLeastTheirDurationAndAreNotRoundedToMilliseconds() throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let (left, _) = try fds.socketPair()
                try selector.register(left, events: .read, handler: ignoreEvents)
                var shortest = Duration.seconds(1)
                for _ in 0..<20 {
                    let (entries, elapsed) = try measure {
                        try selector.readyEntries(timeout: .microseconds(200))
                    }
                    #expect(entries == [])
                    #expect(elapsed >= .microseconds(200), "waited \(elapsed)")
                    shortest = min(shortest, elapsed)
                }
                #expect(shortest < .microseconds(900), "a 200 µs wait took at least \(shortest)")
                let (_, elapsed) = try measure { try selector.readyEntries(timeout: .microseconds(1_500)) }
                #expect(elapsed >= .microseconds(1_500))
            }
        }

        // A ring has one issuer thread. A selector that moves to another thread gets a new
        // ring there: its level registrations keep reporting, a disarmed one-shot stays
        // disarmed, an armed one fires once.
        @Test func aSelectorMovedToAnotherThreadKeepsEveryRegistrationAsItWas() throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let (level, levelPeer) = try fds.socketPair()
                let (disarmed, disarmedPeer) = try fds.socketPair()
                let (armed, armedPeer) = try fds.socketPair()
                try selector.register(level, events: .read, handler: ignoreEvents)
                try selector.register(disarmed, events: .read, trigger: .oneShot, handler: ignoreEvents)
                try selector.register(armed, events: .read, trigger: .oneShot, handler: ignoreEvents)
                try writeAll(levelPeer, "x")
                try writeAll(disarmedPeer, "x")
                #expect(
                    try Set(selector.readyEntries(timeout: .seconds(5)))
                        == [ReadyEntry(fd: level, events: .read), ReadyEntry(fd: disarmed, events: .read)])
                try writeAll(armedPeer, "x")
                let moved = Box(selector)
                let results = Box<[Set<ReadyEntry>]>([])
                withBackgroundThread({
                    var batches: [Set<ReadyEntry>] = []
                    for _ in 0..<2 {
                        batches.append(Set((try? moved.value.readyEntries(timeout: .seconds(5))) ?? []))
                    }
                    results.value = batches
                }) {}
                #expect(
                    results.value == [
                        [ReadyEntry(fd: level, events: .read), ReadyEntry(fd: armed, events: .read)],
                        [ReadyEntry(fd: level, events: .read)],
                    ])
                // And back on this thread.
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: level, events: .read)])
            }
        }

        // An edge registration whose readiness was reported and left in place (data unread):
        // the new ring's poll finds it ready and reports it once more, then waits for
        // something new, as before. Documented (`Trigger`, `UringBackend`): the new ring cannot
        // tell a readiness reported on the old one from one that arose during the move, and
        // dropping the second would hang its reader.
        // An edge readiness that arose after a wait and was used up before the next (data
        // written and read back while the caller ran): the multishot poll's wake-up is still
        // reported, once, with nothing to read; epoll checks again and drops it. Documented
        // (`Trigger`, `UringBackend`); the next wait is quiet.
        @Test func anEdgeUsedUpBetweenWaitsIsReportedOnceWithNothingToRead() throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let (left, right) = try fds.socketPair()
                try selector.register(left, events: .read, trigger: .edge, handler: ignoreEvents)
                #expect(try selector.readyEntries(timeout: .milliseconds(5)) == [])
                try writeAll(right, "x")
                #expect(try readAvailable(left) == Array("x".utf8))
                let stale = try selector.readyEntries(timeout: .milliseconds(20))
                #expect(stale == [] || stale == [ReadyEntry(fd: left, events: .read)], "\(stale)")
                #expect(throws: Errno.wouldBlock) { try readAvailable(left) }
                #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            }
        }

        @Test func aSelectorMovedToAnotherThreadReportsAHeldEdgeOnceMore() throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let (edge, edgePeer) = try fds.socketPair()
                try selector.register(edge, events: .read, trigger: .edge, handler: ignoreEvents)
                try writeAll(edgePeer, "x")
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: edge, events: .read)])
                #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
                let moved = Box(selector)
                let results = Box<[[ReadyEntry]]>([])
                withBackgroundThread({
                    results.value = [
                        (try? moved.value.readyEntries(timeout: .seconds(5))) ?? [],
                        (try? moved.value.readyEntries(timeout: .milliseconds(20))) ?? [],
                    ]
                }) {}
                #expect(results.value == [[ReadyEntry(fd: edge, events: .read)], []])
                // Something new is reported as usual.
                try writeAll(edgePeer, "y")
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: edge, events: .read)])
            }
        }

        // Every io_uring poll also fires for POLLRDHUP (the peer shut down its side), which
        // does not make a full socket writable. A level .write registration must not turn
        // that into a wait that returns at once, forever.
        @Test(arguments: [Trigger.level, .oneShot])
        func writeRegistrationOfAFullSocketWhosePeerShutDownWaitsQuietly(trigger: Trigger) throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let (left, right) = try fds.socketPair()
                try fillUntilFull(left)
                try selector.register(left, events: .write, trigger: trigger, handler: ignoreEvents)
                #expect(shutdown(right, Int32(SHUT_WR)) == 0)
                let cpuBefore = threadCPUTime()
                var returns = 0
                let period = Duration.milliseconds(200)
                let end = monotonicNow() + period
                while monotonicNow() < end {
                    #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
                    returns += 1
                }
                #expect(returns <= 11, "\(returns) returns in \(period)")
                #expect(threadCPUTime() - cpuBefore < period / 2)
                try drain(right)
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .write)])
                let again = try selector.readyEntries(timeout: .milliseconds(20))
                #expect(again == (trigger == .level ? [ReadyEntry(fd: left, events: .write)] : []))
            }
        }

        // A poll holds its file: closing the registered fd does not close the socket while
        // the registration lasts, and its peer sees no end of file. Once it is unregistered,
        // the next wait removes the poll and the peer sees the end.
        @Test func aRegisteredFileClosedBehindTheSelectorStaysOpenUntilUnregisteredAndTheNextWait() throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let (left, right) = try fds.socketPair()
                try selector.register(left, events: .read, handler: ignoreEvents)
                try selector.register(right, events: .read, handler: ignoreEvents)
                #expect(try selector.readyEntries(timeout: .zero) == [])  // both polls armed
                fds.close(left)
                #expect(throws: Errno.wouldBlock) { try readAvailable(right) }
                #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
                try selector.unregister(left)
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: right, events: .read)])
                #expect(try readAvailable(right) == [])
            }
        }
    }

    /// Hands a non-Sendable value to a thread the test joins before using it again.
    private final class Box<Value>: @unchecked Sendable {
        var value: Value
        init(_ value: Value) { self.value = value }
    }
#endif
