import CSelectors
import Selectors
import Synchronization
import Testing

/// Arguments that once trapped in a precondition (or indexed out of range) and now throw. See `Misuse`.
@Suite(.timeLimit(.minutes(2)))
struct RefusedArgumentTests {
    /// Water marks out of order are refused as `Connections.init` refuses its own.
    @Test func outputBudgetRefusesMarksOutOfOrder() throws {
        for (high, low) in [(0, 0), (-1, -2), (Int.min, 0), (10, 10), (10, 11), (10, -1), (1, Int.max)] {
            let error = selectorError { try OutputBudget(high: high, low: low) }
            expectInvalidArgument(error, .outputBudget, fd: nil, mentioning: high < 1 ? "high" : "low")
        }
        // Extreme but valid.
        for (high, low) in [(1, 0), (Int.max, Int.max - 1), (Int.max, 0)] {
            #expect(try OutputBudget(high: high, low: low).bufferBytes == 0)
        }
    }

    @Test func anEventLoopGroupOfNoThreadsThrows() {
        for count in [0, -1, Int.min] {
            let error = selectorError { try EventLoopGroup(threads: count) }
            expectInvalidArgument(error, .eventLoopGroup, fd: nil, mentioning: "threads must be at least 1")
        }
    }

    /// `EINVAL`, as for the listener's other bad arguments, before any socket is made.
    @Test func aListenerWithAbsurdOptionsThrows() {
        for batch in [0, -1, Int.min] {
            var options = Listener.Options()
            options.acceptBatch = batch
            #expect(throws: Errno.invalidArgument, "acceptBatch \(batch)") {
                try Listener(address: .ipv4Loopback(port: 0), options: options)
            }
        }
        var options = Listener.Options()
        options.trigger = .oneShot
        #expect(throws: Errno.invalidArgument) {
            try Listener(address: .ipv4Loopback(port: 0), options: options)
        }
    }

    /// `run()` and `runOnce()` from inside the loop they would run (a task, a timer, an I/O
    /// handler) throw, and the running iteration goes on undisturbed.
    @Test(arguments: Backend.available)
    func reenteringTheLoopFromItsOwnHandlersThrows(backend: Backend) throws {
        try withDescriptors { fds in
            let (fd, _) = try fds.socketPair()
            let io = try EventLoop(backend: backend).assumeIsolated()
            defer { io.close() }
            var refusals: [SelectorError] = []
            func reenter() {
                do throws(SelectorError) { try io.runOnce(timeout: .zero) } catch { refusals.append(error) }
                do throws(SelectorError) { try io.run() } catch { refusals.append(error) }
            }
            io.execute { reenter() }
            io.schedule(after: .zero) { reenter() }
            try io.register(fd, events: .write) { _, _ in
                reenter()
                _ = try? io.unregister(fd)
            }
            try runOnceUntil(io) { refusals.count >= 6 }
            #expect(refusals.count == 6)
            for error in refusals {
                expectInvalidArgument(error, .run, fd: nil, mentioning: "not reentrant")
            }
            var ran = false
            io.execute { ran = true }
            try io.runOnce(timeout: .zero)
            #expect(ran, "the loop runs on after the refusals")
        }
    }

    /// On the loop's thread a wait first takes a readiness remembered for the fd: a negative
    /// fd is refused there too, every time, not only by the first wait (which makes the
    /// waiters).
    @Test(arguments: Backend.available)
    func awaitingANegativeDescriptorOnTheLoopThrowsEveryTime(backend: Backend) async throws {
        let descriptors: [Int32] = [-1, -1, .min]
        try await withLoopThread(backend, name: "audit-negative") { thread in
            let loop = thread.loop
            let errors = try await within(on: loop) { () -> [SelectorError?] in
                var errors: [SelectorError?] = []
                for fd in descriptors {
                    do { try await loop.readable(fd) } catch { errors.append(error as? SelectorError) }
                    do { try await loop.writable(fd) } catch { errors.append(error as? SelectorError) }
                }
                return errors
            }
            let expected = descriptors.flatMap { fd in
                [
                    SelectorError(.readable, fd: fd, .negativeDescriptor),
                    SelectorError(.writable, fd: fd, .negativeDescriptor),
                ]
            }
            #expect(errors == expected)
        }
    }

    /// An fd no selector of the loop's could watch is refused with the selector's own reason,
    /// before the waiters make room for it (`Int32.max` would take 2^31 slots), from the loop's
    /// thread and from elsewhere.
    @Test(arguments: Backend.available)
    func awaitingAnImpossibleDescriptorThrowsTheSelectorsReason(backend: Backend) async throws {
        // Beyond every fd table (they reserve at most 2^24 entries).
        let descriptors = Misuse.impossibleDescriptors.filter { $0 >= 1 << 24 }
        let probe = try Selector(backend: backend)
        defer { probe.close() }
        var expected: [SelectorError] = []
        for fd in descriptors {
            let reason = selectorError { try probe.register(fd, events: .read) { _, _ in } }?.reason
            switch reason {
            case .descriptorBeyondTable, .descriptorTooLarge: break
            default: Issue.record("fd \(fd): the selector refused \(String(describing: reason))")
            }
            guard let reason else { return }
            expected += [SelectorError(.readable, fd: fd, reason), SelectorError(.writable, fd: fd, reason)]
        }
        try await withLoopThread(backend, name: "audit-impossible") { thread in
            let loop = thread.loop
            let wait = { @Sendable () async -> [SelectorError?] in
                var errors: [SelectorError?] = []
                for fd in descriptors {
                    do { try await loop.readable(fd) } catch { errors.append(error as? SelectorError) }
                    do { try await loop.writable(fd) } catch { errors.append(error as? SelectorError) }
                }
                return errors
            }
            let onLoop = try await within(on: loop) { await wait() }
            #expect(onLoop == expected, "on the loop's thread")
            let elsewhere = try await within { await wait() }
            #expect(elsewhere == expected, "from another thread")
        }
    }
}

extension RefusedArgumentTests {
    /// `AsyncConnection.send` off the loop's thread throws and sends nothing; `write` from the
    /// same place works.
    @Test func sendOffTheLoopThreadThrowsAndSendsNothing() async throws {
        try await withAdoptedConnection(.default) { _, connection, peer in
            let ours = connection.fd
            defer { connection.abort() }
            let error = selectorError {
                try Array("no".utf8).withUnsafeBytes { bytes in try connection.send(bytes) }
            }
            expectInvalidArgument(error, .write, fd: ours, mentioning: "loop's thread")
            try await connection.write("ok")
            #expect(try await Peer.read(peer, count: 2) == Array("ok".utf8), "nothing refused was sent")
        }
    }

    /// A pool adopting on another loop than its own throws and leaves the fd alone.
    @Test func adoptingOnAnotherLoopThrowsAndLeavesTheFd() throws {
        let home = try EventLoop()
        defer { home.assumeIsolated().close() }
        let other = try EventLoop()
        defer { other.assumeIsolated().close() }
        let pool = try AsyncConnections(on: home.assumeIsolated())
        let (ours, peer) = try Socket.makePair()
        defer {
            Socket.close(ours)
            Socket.close(peer)
        }
        let error = selectorError { try pool.adopt(ours, on: other.assumeIsolated()) }
        expectInvalidArgument(error, .adopt, fd: ours, mentioning: "not this pool's loop")
        let written = try Array("x".utf8).withUnsafeBytes { bytes in try Socket.write(peer, from: bytes) }
        #expect(written == 1)
        var byte: UInt8 = 0
        #expect(read(ours, &byte, 1) == 1, "the fd was closed or taken over")
    }
}

extension RefusedArgumentTests {
    /// `AsyncConnection.isOpen` and `pendingOutputCount` read off the loop's thread trap (in
    /// release builds too) rather than race with the loop; on the loop's thread they answer.
    @Test func loopThreadGettersTrapElsewhere() async throws {
        await #expect(processExitsWith: .failure) {
            try await withAdoptedConnection(.default) { _, connection, _ in
                _ = connection.isOpen
            }
        }
        await #expect(processExitsWith: .failure) {
            try await withAdoptedConnection(.default) { _, connection, _ in
                _ = connection.pendingOutputCount
            }
        }
    }
}
