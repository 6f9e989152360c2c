import CSelectors
import Selectors
import Testing

/// The select backend used to stop at FD_SETSIZE (1024): `echo-server --backend select` closed
/// every connection whose fd reached it. Where the kernel takes larger bitmaps (Linux), the
/// backend sizes its own to the largest registered fd, so these fds work like any other; the
/// same checks run on every backend. Only a few descriptors are opened, at high numbers
/// (`F_DUPFD` at or above a minimum), so no descriptor-heavy setup is needed.
@Suite(.serialized) struct SelectBeyondFDSetSizeTests {
    /// Minimums on both sides of word and FD_SETSIZE boundaries, and far above them.
    private static let minimums: [Int32] = [1_023, 1_024, 1_087, 1_088, 4_095, 4_096, 9_000]

    private static let enoughDescriptors = descriptorLimit > 10_000

    @Test(
        .enabled(if: enoughDescriptors, "needs RLIMIT_NOFILE above 10,000 (raise it with ulimit -n)"),
        arguments: Backend.available.filter { $0.capabilities.descriptorLimit == nil })
    func readAndWriteReadinessOfHighDescriptorsIsReportedExactly(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            var readers: [Int32: Int32] = [:]  // high reader -> its writer
            var writers: [Int32] = []
            for minimum in Self.minimums {
                let (reader, writer) = try fds.socketPair()
                let high = try fds.duplicate(reader, atLeast: minimum)
                fds.close(reader)
                readers[high] = writer
                try selector.register(high, events: .read, handler: ignoreEvents)
                let highWriter = try fds.duplicate(writer, atLeast: minimum + 5)
                writers.append(highWriter)
            }
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])

            // Every other reader gets data; only those are reported, each with read alone.
            let fed = readers.keys.sorted().enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            for high in fed { try writeAll(readers[high]!, "x") }
            var entries = try selector.readyEntries(timeout: .seconds(5))
            #expect(Set(entries.map(\.fd)) == Set(fed), "\(entries)")
            #expect(entries.allSatisfy { $0.events == .read })

            // Write interest on fds above them all: reported together with the readers.
            for writer in writers { try selector.register(writer, events: .write, handler: ignoreEvents) }
            entries = try selector.readyEntries(timeout: .seconds(5))
            #expect(Set(entries.map(\.fd)) == Set(fed + writers), "\(entries)")

            // Removing the highest fds one by one keeps the rest reported.
            for writer in writers.sorted().reversed() { try selector.unregister(writer) }
            entries = try selector.readyEntries(timeout: .seconds(5))
            #expect(Set(entries.map(\.fd)) == Set(fed), "\(entries)")
        }
    }

    @Test(
        .enabled(if: enoughDescriptors, "needs RLIMIT_NOFILE above 10,000 (raise it with ulimit -n)"),
        arguments: Backend.available.filter { $0.capabilities.descriptorLimit == nil })
    func oneShotAboveFDSetSizeIsDisarmedAndRearmed(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            let (reader, writer) = try fds.socketPair()
            let high = try fds.duplicate(reader, atLeast: 5_000)
            try writeAll(writer, "x")
            try selector.register(high, events: .read, trigger: .oneShot, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: high, events: .read)])
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            try selector.modify(high, events: .read)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: high, events: .read)])
        }
    }

    // A closed high fd makes select(2) fail with EBADF like a low one; the backend reports it
    // (and the live ready fds) instead of failing the wait.
    @Test(
        .enabled(if: enoughDescriptors, "needs RLIMIT_NOFILE above 10,000 (raise it with ulimit -n)"),
        arguments: Backend.available.filter { $0 == .select || $0 == .poll })
    func closedHighDescriptorIsReportedWithTheLiveReadyOnes(backend: Backend) throws {
        guard backend.capabilities.descriptorLimit == nil else { return }
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            let (reader, _) = try fds.socketPair()
            let high = try fds.duplicate(reader, atLeast: 7_000)
            let (live, livePeer) = try fds.socketPair()
            try selector.register(high, events: .read, handler: ignoreEvents)
            try selector.register(live, events: .read, handler: ignoreEvents)
            try writeAll(livePeer, "x")
            fds.close(high)
            let entries = try selector.readyEntries(timeout: .seconds(5))
            #expect(Set(entries.map(\.fd)) == [high, live], "\(entries)")
            try selector.unregister(high)
        }
    }
}
