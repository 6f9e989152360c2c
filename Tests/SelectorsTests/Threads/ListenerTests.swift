import CSelectors
import Selectors
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `Listener`: one listening socket that every loop of a group accepts from; closing it from
/// any thread closes the socket once no loop watches it; accepting pauses when the process
/// is out of descriptors and resumes when one is free.
@Suite struct ListenerTests {
    /// What the loops' accept handlers saw.
    final class AcceptLog: Sendable {
        let perLoop: Shared<[Int: Int]> = Shared([:])
        let unexpected = Shared<[String]>([])
        let events = Shared<[String]>([])

        /// The handler for loop `index`: counts, checks and closes each accepted socket.
        func handler(_ index: Int) -> (Listener.Event) -> Void {
            { event in
                switch event {
                case .accepted(let fd):
                    if !isNonBlocking(fd) || !isCloseOnExec(fd) {
                        self.unexpected.withLock { $0.append("fd \(fd) is blocking or inheritable") }
                    }
                    Socket.close(fd)
                    self.perLoop.withLock { $0[index, default: 0] += 1 }
                case .paused(let error): self.events.withLock { $0.append("paused(\(error))") }
                case .resumed(let pauses): self.events.withLock { $0.append("resumed(\(pauses))") }
                }
            }
        }

        func accepted(by index: Int) -> Int { perLoop.value[index] ?? 0 }
        var total: Int { perLoop.value.values.reduce(0, +) }
    }

    /// Connects a blocking client (on loopback the connection is queued before `connect`
    /// returns, accepted or not).
    private func connectClient(_ address: SocketAddress) throws -> Int32 {
        try Socket.connect(to: address).fd
    }

    /// Whether connections to `address` are refused, asking every 20 ms for at most `limit`.
    /// Each probe is a non-blocking connect waited for at most a second, so probing a socket
    /// that still listens (and is never accepted from) cannot block on a full backlog.
    private func becomesRefused(_ address: SocketAddress, within limit: Duration = .seconds(10)) -> Bool {
        let deadline = LoopInstant.now.advanced(by: limit)
        while true {
            if isRefused(address) { return true }
            guard LoopInstant.now < deadline else { return false }
            sleep(for: .milliseconds(20))
        }
    }

    private func isRefused(_ address: SocketAddress) -> Bool {
        do {
            let (fd, pending) = try Socket.connect(to: address, nonBlocking: true)
            defer { Socket.close(fd) }
            guard pending, waitFor(fd, Int32(POLLOUT), milliseconds: 1_000) else { return false }
            return (try? Socket.connectResult(fd)) == .some(.connectionRefused)
        } catch {
            return error == .connectionRefused
        }
    }

    /// Which loop takes a connection depends on which is free, so each loop in turn is the
    /// only free one (the others wait at a gate): every loop must accept, and every
    /// connection is accepted exactly once.
    @Test(arguments: Backend.available)
    func everyLoopOfAGroupAcceptsFromTheOneSocket(backend: Backend) throws {
        let listener = try Listener(address: .ipv4Loopback(port: 0))
        let log = AcceptLog()
        let group = try EventLoopGroup(threads: 3, name: uniqueThreadName("lst-"), backend: backend) {
            index, io in
            try listener.accept(on: io, log.handler(index))
        }
        defer {
            listener.close()
            group.shutdown()
        }
        var clients: [Int32] = []
        defer { for fd in clients { Socket.close(fd) } }
        for free in 0..<3 {
            let gate = try Gate()
            for (index, loop) in group.loops.enumerated() where index != free { try gate.block(loop) }
            let before = log.perLoop.value
            for _ in 0..<5 { clients.append(try connectClient(listener.address)) }
            eventually { log.accepted(by: free) == (before[free] ?? 0) + 5 }
            gate.open()
            for index in 0..<3 where index != free {
                #expect(log.accepted(by: index) == before[index] ?? 0, "loop \(index) was busy")
            }
        }
        #expect(log.perLoop.value == [0: 5, 1: 5, 2: 5])
        #expect(log.unexpected.value.isEmpty, "\(log.unexpected.value)")
        #expect(log.events.value.isEmpty)
    }

    @Test(arguments: Backend.available)
    func closeFromAnotherThreadClosesTheSocketOnceNoLoopWatchesIt(backend: Backend) throws {
        let listener = try Listener(address: .ipv4Loopback(port: 0))
        let log = AcceptLog()
        let group = try EventLoopGroup(threads: 2, name: uniqueThreadName("lst-cl-"), backend: backend) {
            index, io in
            try listener.accept(on: io, log.handler(index))
        }
        defer { group.shutdown() }
        let client = try connectClient(listener.address)
        Socket.close(client)
        eventually { log.total == 1 }

        listener.close()
        listener.close()
        #expect(becomesRefused(listener.address))
        let fd = listener.fd
        for loop in group.loops {
            let watched = try onLoop(loop) { (try? loop.assumeIsolated().key(for: fd)) != nil }
            #expect(watched == false, "no selector keeps the closed number")
        }
        let first = group.loops[0]
        let refusal = try onLoop(first) { () -> SelectorError? in
            do {
                try listener.accept(on: first.assumeIsolated()) { _ in }
                return nil
            } catch let error as SelectorError {
                return error
            } catch {
                return nil
            }
        }
        // The listener's socket is closed, not the loop: EBADF, as registering it would say.
        #expect(refusal == SelectorError(.register, fd: fd, .system(.badFileDescriptor)))
    }

    /// `listener.close()` from another thread reaches each loop as a task. A loop already
    /// asked to stop may end before running it: the socket must still be closed once no
    /// loop watches it, not stay open (and listening) for good.
    @Test(arguments: Backend.available)
    func closeRacingWithALoopThatIsStoppingStillClosesTheSocket(backend: Backend) throws {
        let listener = try Listener(address: .ipv4Loopback(port: 0))
        let log = AcceptLog()
        let thread = try EventLoopThread(name: uniqueThreadName("lst-race-"), backend: backend) { io in
            try listener.accept(on: io, log.handler(0))
        }
        let gate = try Gate()
        try gate.block(thread.loop)
        thread.stop()
        listener.close()  // accepted by `execute`: the loop is not closed yet
        gate.open()
        try thread.join()
        #expect(thread.loop.isClosed)
        #expect(becomesRefused(listener.address, within: .seconds(2)), "the socket was closed")
    }

    @Test(arguments: Backend.available)
    func stopAcceptingOnOneLoopLeavesTheSocketToTheOthers(backend: Backend) throws {
        let listener = try Listener(address: .ipv4Loopback(port: 0))
        let log = AcceptLog()
        let group = try EventLoopGroup(threads: 2, name: uniqueThreadName("lst-stop-"), backend: backend) {
            index, io in
            try listener.accept(on: io, log.handler(index))
        }
        defer {
            listener.close()
            group.shutdown()
        }
        let first = group.loops[0]
        _ = try onLoop(first) { listener.stopAccepting(on: first.assumeIsolated()) }
        let watched = try onLoop(first) { (try? first.assumeIsolated().key(for: listener.fd)) != nil }
        #expect(watched == false)
        var clients: [Int32] = []
        defer { for fd in clients { Socket.close(fd) } }
        for _ in 0..<4 { clients.append(try connectClient(listener.address)) }
        eventually { log.total == 4 }
        #expect(log.perLoop.value == [1: 4])
    }

    /// Edge-triggered, with a batch of two: one readiness for nine queued connections, the
    /// rest taken by the zero-delay continuation.
    @Test(arguments: Backend.available)
    func edgeTriggeredAcceptingTakesEveryQueuedConnectionBeyondOneBatch(backend: Backend) throws {
        var options = Listener.Options()
        options.trigger = .edge
        options.acceptBatch = 2
        let listener = try Listener(address: .ipv4Loopback(port: 0), options: options)
        let log = AcceptLog()
        let thread = try EventLoopThread(name: uniqueThreadName("lst-edge-"), backend: backend) { io in
            try listener.accept(on: io, log.handler(0))
        }
        defer {
            listener.close()
            thread.shutdown()
        }
        let gate = try Gate()
        try gate.block(thread.loop)
        var clients: [Int32] = []
        defer { for fd in clients { Socket.close(fd) } }
        for _ in 0..<9 { clients.append(try connectClient(listener.address)) }
        gate.open()
        eventually { log.total == 9 }
        #expect(log.unexpected.value.isEmpty)
    }

    /// In a child process, which lowers its own descriptor limit: with no descriptor free,
    /// `accept` fails with `EMFILE`; the loop stops watching the socket and retries after
    /// `retryDelay` (reporting each failed attempt), and once a descriptor is free the
    /// queued connection is accepted and `.resumed` counts the failed attempts.
    @Test func outOfDescriptorsPausesAcceptingAndAFreedDescriptorResumesIt() async {
        await #expect(processExitsWith: .success) {
            var options = Listener.Options()
            options.retryDelay = .milliseconds(20)
            guard let listener = try? Listener(address: .ipv4Loopback(port: 0), options: options),
                let loop = try? EventLoop().assumeIsolated(),
                let client = try? Socket.connect(to: listener.address).fd
            else { exit(10) }
            var pauses = 0
            var resumedAfter: Int?
            var accepted: [Int32] = []
            var order: [String] = []
            do {
                try listener.accept(on: loop) { event in
                    switch event {
                    case .accepted(let fd):
                        accepted.append(fd)
                        order.append("accepted")
                    case .paused(let error):
                        if error != .tooManyOpenFiles { exit(11) }
                        pauses += 1
                        order.append("paused")
                    case .resumed(let count):
                        resumedAfter = count
                        order.append("resumed")
                    }
                }
            } catch {
                exit(12)
            }
            // No descriptor beyond those open now, and every free number below filled.
            var highest = descriptorLimit - 1
            while highest > 0 && !isOpen(highest) { highest -= 1 }
            var limit = rlimit()
            getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            let original = limit
            limit.rlim_cur = rlim_t(highest + 2)
            guard setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { exit(13) }
            var lastFiller: Int32 = -1
            while true {
                let fd = dup(0)
                if fd < 0 { break }
                lastFiller = fd
            }
            guard lastFiller >= 0 else { exit(14) }

            // At least two failed attempts: paused, retried after the delay, paused again.
            for _ in 0..<500 where pauses < 2 { try? loop.runOnce(timeout: .milliseconds(10)) }
            guard pauses >= 2, accepted.isEmpty else { exit(15) }
            let pausesBefore = pauses
            let seenBefore = order.count
            _ = close(lastFiller)
            for _ in 0..<500 where accepted.isEmpty { try? loop.runOnce(timeout: .milliseconds(10)) }
            guard accepted.count == 1 else { exit(16) }
            guard resumedAfter == pausesBefore else { exit(17) }
            // The accepted socket took the only free descriptor, so the batch's next accept
            // fails again (Linux allocates the descriptor before looking at the queue), which
            // may add a pause after these two.
            guard order[seenBefore...].prefix(2) == ["resumed", "accepted"] else { exit(18) }
            var restored = original
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &restored)
            Socket.close(client)
            exit(0)
        }
    }
}
