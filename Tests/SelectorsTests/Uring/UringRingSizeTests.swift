#if os(Linux)
    import CSelectors
    @_spi(Testing) import Selectors
    import Testing

    /// The rings against the registrations: more changes than the SQ holds, more completions
    /// than the CQ holds, and multishot polls the kernel ends when its CQ is full.
    extension DescriptorHeavyTests {
        /// `count` connected socket pairs, each peer holding one byte for its reader.
        private func readyPairs(_ count: Int, _ fds: OpenDescriptors) throws -> [(reader: Int32, peer: Int32)]
        {
            var pairs: [(Int32, Int32)] = []
            for _ in 0..<count {
                let (reader, peer) = try fds.socketPair()
                pairs.append((reader, peer))
            }
            return pairs
        }

        // 2,000 registrations against a ring made for 64 submissions and 256 completions: the
        // first wait submits them in chunks, the rings grow, and every wait reports them all.
        @Test(requiresUring) func uringReportsEveryOneOfManyMoreRegistrationsThanItsInitialRings() throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let pairs = try readyPairs(2_000, fds)
                for pair in pairs { try selector.register(pair.reader, events: .read, handler: ignoreEvents) }
                #expect(try selector.readyEntries(timeout: .zero) == [])
                for pair in pairs { try writeAll(pair.peer, "x") }
                let expected = Set(pairs.map(\.reader))
                for round in 0..<2 {
                    let entries = try selector.readyEntries(timeout: .seconds(5))
                    #expect(entries.count == pairs.count, "round \(round)")
                    #expect(Set(entries.map(\.fd)) == expected, "round \(round)")
                    #expect(entries.allSatisfy { $0.events == .read }, "round \(round)")
                }
                for pair in pairs { try drain(pair.reader) }
                #expect(try selector.readyEntries(timeout: .zero) == [])
            }
        }

        // Found by the benchmark: registrations arriving between waits made the rings grow with
        // polls armed, and a resize leaves IORING_SQ_TASKRUN set with nothing queued; waits
        // then kept calling io_uring_enter while the flag stayed set (thousands of calls, 0.1 s
        // per zero-timeout select at 1,000 fds), and busy peers kept them from returning.
        @Test(requiresUring) func waitsStayPromptWhileTheRingsGrowUnderBusyPeers() throws {
            try withDescriptors { fds in
                let selector = try Selector(backend: .uring)
                defer { selector.close() }
                let pairs = try readyPairs(5_000, fds)
                for (index, pair) in pairs.enumerated() {
                    try selector.register(pair.reader, events: .read, handler: ignoreEvents)
                    guard index % 100 == 99 else { continue }
                    let (entries, elapsed) = try measure { try selector.readyEntries(timeout: .zero) }
                    #expect(entries == [])
                    #expect(
                        elapsed < .milliseconds(50), "\(index + 1) registrations: select(0) took \(elapsed)")
                }
                // 32 peers write as fast as they can; every wait returns within a bound.
                let busy = pairs.prefix(32).map(\.peer)
                let stop = SharedFlag()
                try withBackgroundThread({
                    var byte: UInt8 = 1
                    while !stop.isSet { for fd in busy { _ = write(fd, &byte, 1) } }
                }) {
                    defer { stop.set() }
                    for round in 0..<200 {
                        let (entries, elapsed) = try measure {
                            try selector.readyEntries(timeout: .seconds(2))
                        }
                        #expect(
                            !entries.isEmpty && elapsed < .milliseconds(200), "round \(round): \(elapsed)")
                        for entry in entries { _ = try? drain(entry.fd) }
                    }
                }
            }
        }

        // A ring that never grows, 2 SQEs and 4 CQEs, with 300 level registrations: changes go
        // in chunks of two, completions overflow into the kernel's list (none is lost), and
        // level still means every wait.
        @Test(requiresUring) func aFullCompletionQueueLosesNothingAtLevel() throws {
            try withDescriptors { fds in
                let selector = try Selector(uringSubmissionEntries: 2, completionEntries: 4)
                defer { selector.close() }
                let pairs = try readyPairs(300, fds)
                for pair in pairs { try writeAll(pair.peer, "x") }
                for pair in pairs { try selector.register(pair.reader, events: .read, handler: ignoreEvents) }
                let expected = Set(pairs.map(\.reader))
                for round in 0..<3 {
                    let entries = try selector.readyEntries(timeout: .seconds(5))
                    #expect(
                        entries.count == pairs.count && Set(entries.map(\.fd)) == expected, "round \(round)")
                }
                for pair in pairs { try drain(pair.reader) }
                #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            }
        }

        // 64 edge registrations (multishot polls) on 4 CQEs, all woken at once: the kernel
        // ends the polls whose completions overflow (no IORING_CQE_F_MORE). They must be armed
        // again, or the next data on those fds would never be reported.
        @Test(requiresUring) func multishotPollsTheKernelEndsOnAFullCompletionQueueAreArmedAgain() throws {
            try withDescriptors { fds in
                let selector = try Selector(uringSubmissionEntries: 2, completionEntries: 4)
                defer { selector.close() }
                let pairs = try readyPairs(64, fds)
                for pair in pairs {
                    try selector.register(pair.reader, events: .read, trigger: .edge, handler: ignoreEvents)
                }
                #expect(try selector.readyEntries(timeout: .zero) == [])  // all armed, none ready
                let expected = Set(pairs.map(\.reader))
                for round in 0..<4 {
                    for pair in pairs { try writeAll(pair.peer, "round \(round)") }
                    var reported: Set<Int32> = []
                    let deadline = monotonicNow() + .seconds(5)
                    while reported != expected && monotonicNow() < deadline {
                        for entry in try selector.readyEntries(timeout: .seconds(1)) {
                            #expect(entry.events == .read)
                            reported.insert(entry.fd)
                        }
                    }
                    #expect(
                        reported == expected,
                        "round \(round): \(expected.subtracting(reported).count) missing")
                    for pair in pairs { #expect(try drain(pair.reader) == Array("round \(round)".utf8)) }
                    #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [], "round \(round)")
                }
            }
        }
    }
#endif
