import CSelectors
import Synchronization
import Testing

@testable import Selectors

/// CPU time the loop's thread has used, read on that thread.
private func loopThreadCPU(_ loop: EventLoop) async throws -> Duration {
    try await onLoopThread(loop) { _ in
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Duration.seconds(ts.tv_sec) + Duration.nanoseconds(ts.tv_nsec)
    }
}

/// What a review of the async layer found (each of these failed before its fix, on the
/// backends named), and the stress it passed: a cancelled read left poll and select spinning;
/// `close()` with output queued left a waiting reader suspended; a `read` body from an actor
/// ran on the loop's thread, racing the actor; a second writer refused with `alreadyWaiting`
/// had sent its bytes anyway; a second acceptor's failed wait was retried for ever; an
/// abandoned accept iterator left its watch behind; a pool of another loop closed every
/// client in silence.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct AsyncLayerReviewTests {

    /// Poll and select (level): a read waiter cancelled, then the peer sends while nobody
    /// reads: the loop sleeps, it does not spin.
    @Test(arguments: Backend.available)
    func cancelledReadWaiterDoesNotLeaveTheLoopSpinning(backend: Backend) async throws {
        try await withPooledConnection(backend) { loop, pool, connection, peer in
            let reader = Task(executorPreference: loop) { try await connection.read(upTo: 100) }
            try await until("reader waiting") { try await waiterCount(pool) == 1 }
            reader.cancel()
            #expect(wasCancelled(await outcome(of: reader)))
            try await Peer.write(peer, "unread")
            try await Task.sleep(for: .milliseconds(50))
            let before = try await loopThreadCPU(loop)
            try await Task.sleep(for: .milliseconds(500))
            let used = try await loopThreadCPU(loop) - before
            #expect(
                used < .milliseconds(250),
                "\(backend): loop thread used \(used) CPU in 500 ms idle (a spin uses all 500)")
            // The bytes are still there, once.
            #expect(
                try await within(on: loop) { try await connection.read(upTo: 100) } == Array("unread".utf8))
            connection.close()
        }
    }

    /// `close()` with output queued (a peer that does not read) while another task waits in
    /// `read`: the waiting task fails (`connectionClosed`), as documented.
    @Test(arguments: Backend.available)
    func closeWithQueuedOutputFailsAWaitingReader(backend: Backend) async throws {
        try await withBackpressuredConnection(backend) { loop, pool, connection, peer in
            let reader = Task(executorPreference: loop) { try await connection.read(upTo: 100) }
            try await until("reader waiting") { try await waiterCount(pool) == 1 }
            // Queue output the peer never reads.
            try await within(on: loop) {
                let big = [UInt8](repeating: 1, count: 40_000)
                try big.withUnsafeBytes { try connection.send($0) }
            }
            #expect(try await pendingOutput(connection) > 0)
            connection.close()
            let result = await outcome(of: reader, within: .seconds(3))
            #expect(
                failed(result, with: .connectionClosed),
                "\(backend): reader got \(String(describing: result))")
            if result == nil { reader.cancel() }
            // the peer reads, the close completes
            _ = try? await Peer.readToEnd(peer, limit: .seconds(5))
        }
    }

    /// From the main actor.
    @Test(arguments: [Backend.epoll, Backend.poll])
    @MainActor
    func callsFromTheMainActorWork(backend: Backend) async throws {
        let thread = try EventLoopThread(name: "async-main", backend: backend)
        defer { thread.shutdown() }
        let loop = thread.loop
        let (ours, peer) = try Socket.makePair()
        defer { Socket.close(peer) }
        let connection = try await AsyncConnection.adopt(ours, on: loop)
        try await Peer.write(peer, "hello")
        let got = try await connection.read(upTo: 100)
        #expect(got == Array("hello".utf8))
        try await connection.write("bye")
        #expect(try await Peer.read(peer, count: 3) == Array("bye".utf8))
        connection.close()
    }

    /// Abandoning `connections(on:)` iterators (a `for try await` left early) leaves no
    /// watch behind: the loop's close observers do not grow.
    @Test(arguments: [Backend.epoll])
    func abandonedAcceptIteratorsLeaveNothingBehind(backend: Backend) async throws {
        try await withLoopThread(backend) { thread in
            let loop = thread.loop
            let listener = try Listener(address: .ipv4Loopback(port: 0))
            defer { listener.close() }
            // The loop's standard pool, made by the first accept, observes the loop's close too.
            let base = try await onLoopThread(loop) { io in
                _ = try? AsyncConnections.standard(on: io)
                return io.eventLoop.closeObservers.count
            }
            for _ in 0..<20 {
                let (fd, _) = try Socket.connect(to: listener.address, nonBlocking: false)
                defer { Socket.close(fd) }
                try await within(on: loop) {
                    for try await connection in listener.connections(on: loop) {
                        connection.close()
                        break
                    }
                }
            }
            // Each watch stops as its iterator goes, on the loop (soon, if that was elsewhere).
            try await until("the abandoned watches stopped") {
                try await onLoopThread(loop) { $0.eventLoop.closeObservers.count } == base
            }
        }
    }

    /// Two tasks accepting from one listener on one loop: the second is refused.
    @Test(arguments: [Backend.epoll, Backend.poll])
    func twoAcceptorsOnOneLoop(backend: Backend) async throws {
        try await withLoopThread(backend) { thread in
            let loop = thread.loop
            let listener = try Listener(address: .ipv4Loopback(port: 0))
            let first = Task(executorPreference: loop) { () -> Int in
                var n = 0
                for try await c in listener.connections(on: loop) { n += 1; c.close() }
                return n
            }
            try await until { try await readinessWaiterCount(loop) == 1 }
            let second = Task(executorPreference: loop) { () -> Int in
                var n = 0
                for try await c in listener.connections(on: loop) { n += 1; c.close() }
                return n
            }
            // The second's wait fails (the first waits on the loop's watch already): it says
            // so, rather than retrying its wait for ever.
            let r2 = await outcome(of: second, within: .seconds(2))
            #expect(failed(r2, with: .alreadyWaiting), "\(String(describing: r2))")
            let (fd, _) = try Socket.connect(to: listener.address, nonBlocking: false)
            defer { Socket.close(fd) }
            try await until { try await readinessWaiterCount(loop) == 1 }
            listener.close()
            let r1 = await outcome(of: first, within: .seconds(3))
            #expect(r1 != nil)
        }
    }
}

extension AsyncLayerReviewTests {
    /// A reader that gets cancelled at random moments (from another thread) and starts again:
    /// every byte comes exactly once and in order; nothing hangs; no waiter is left.
    @Test(arguments: Backend.available, [true, false])
    func randomCancellationsLoseNoByte(backend: Backend, onLoop: Bool) async throws {
        try await withPooledConnection(backend) { loop, pool, connection, peer in
            let message = patternBytes(300_000, seed: 5)
            let writer = Task {
                var at = 0
                while at < message.count {
                    let n = min(message.count - at, Int.random(in: 1...3000))
                    try await Peer.write(peer, Array(message[at..<at + n]))
                    at += n
                    if Bool.random() { usleep(UInt32.random(in: 0...200)) }
                }
            }
            let got = Locked<[UInt8]>([])
            var rounds = 0
            while got.withLock({ $0.count }) < message.count {
                rounds += 1
                let reader = Task(executorPreference: onLoop ? loop : nil) {
                    while true {
                        let chunk = try await connection.read(upTo: Int.random(in: 1...5000))
                        if chunk.isEmpty { return }
                        got.withLock { $0 += chunk }
                    }
                }
                try await Task.sleep(for: .microseconds(Int.random(in: 0...300)))
                reader.cancel()
                let r = await outcome(of: reader, within: .seconds(10))
                guard let r else { Issue.record("reader hung"); return }
                if case .failure(let e) = r, !(e is CancellationError) {
                    Issue.record("unexpected \(e)"); return
                }
                if rounds > 20000 { Issue.record("too many rounds"); return }
            }
            try await finish(writer)
            #expect(sameBytes(got.withLock { $0 }, message), "bytes lost/duplicated/reordered")
            #expect(try await waiterCount(pool) == 0)
            connection.close()
        }
    }

    /// Shutting the loop thread down while tasks wait in read, write (drained) and readable,
    /// on and off the loop: each ends, with an error.
    @Test(arguments: Backend.available)
    func shutdownWithWaitersEndsThemAll(backend: Backend) async throws {
        // (Descriptors are not counted here: other suites run beside this one. The loop
        // tests' leak checks cover a shut-down loop's descriptors.)
        let thread = try EventLoopThread(name: "async-shut", backend: backend)
        let loop = thread.loop
        let (a, pa) = try Socket.makePair()
        let (b, pb) = try Socket.makePair()
        let (c, pc) = try Socket.makePair()
        defer { for fd in [c, pa, pb, pc] { Socket.close(fd) } }
        shrinkBuffers(b)
        shrinkBuffers(pb)
        let pool = try await makePool(loop, smallWaterMarks())
        let ca = try await pool.adopt(a)
        let cb = try await pool.adopt(b)
        var tasks: [Task<Void, any Error>] = []
        for preference in [loop, nil] as [EventLoop?] {
            tasks.append(Task(executorPreference: preference) { _ = try await ca.read(upTo: 10) })
            tasks.append(
                Task(executorPreference: preference) {
                    try await cb.write([UInt8](repeating: 7, count: 300_000))
                })
            tasks.append(Task(executorPreference: preference) { try await loop.readable(c) })
        }
        try await Task.sleep(for: .milliseconds(200))
        thread.shutdown()
        for task in tasks {
            let result = await outcome(of: task, within: .seconds(10))
            #expect(result != nil, "a waiting task was not ended by the shutdown")
            if case .success = result { Issue.record("a wait succeeded: nothing was ever ready") }
        }
    }
}

extension AsyncLayerReviewTests {
    /// Two tasks writing: the second fails with `alreadyWaiting`, and sends nothing.
    @Test(arguments: [Backend.epoll, Backend.poll])
    func aSecondWriterRefusedWithAlreadyWaitingSendsNothing(backend: Backend) async throws {
        try await withBackpressuredConnection(backend) { loop, pool, connection, peer in
            let first = Task(executorPreference: loop) {
                try await connection.write([UInt8](repeating: 0x41, count: 200_000))
            }
            try await until("first writer waiting") { try await waiterCount(pool) == 1 }
            let second = Task(executorPreference: loop) {
                try await connection.write([UInt8](repeating: 0x42, count: 1000))
            }
            let r = await outcome(of: second)
            #expect(failed(r, with: .alreadyWaiting))
            let first200K = try await Peer.read(peer, count: 200_000)
            try await finish(first)
            #expect(first200K.allSatisfy { $0 == 0x41 })
            try await Task.sleep(for: .milliseconds(100))
            let more = try readAvailableNow(peer) ?? []
            #expect(more.isEmpty, "the refused write delivered \(more.count) bytes")
            connection.close()
        }
    }
}

/// An actor whose state a `read(_:)` body touches while other calls on the actor run.
actor ReadBodyRacingActor {
    var count = 0
    func bump() { count += 1 }
    func readLoop(_ c: AsyncConnection, total: Int) async throws {
        var seen = 0
        while seen < total {
            let n = try await c.read { bytes in self.count += bytes.count }
            if n == 0 { return }
            seen += n
        }
    }
}

extension AsyncLayerReviewTests {
    /// The actor-isolated body and the actor's own jobs both update `count`: none is lost
    /// (ThreadSanitizer reported the race when the body ran on the loop's thread).
    @Test(arguments: [Backend.epoll])
    func readBodyOfAnActorRacesTheActor(backend: Backend) async throws {
        try await withAdoptedConnection(backend) { loop, connection, peer in
            let actor = ReadBodyRacingActor()
            let total = 200_000
            let reading = Task { try await actor.readLoop(connection, total: total) }
            let bumping = Task { for _ in 0..<20_000 { await actor.bump() } }
            var at = 0
            while at < total {
                try await Peer.write(peer, [UInt8](repeating: 1, count: 1000))
                at += 1000
            }
            try await finish(reading)
            try await finish(bumping)
            let count = await actor.count
            #expect(count == total + 20_000, "lost updates: \(count) != \(total + 20_000)")
            connection.close()
        }
    }

    /// `connections(on:using:)` with a pool of another loop: the sequence throws the pool's
    /// refusal, rather than accept and close every client in silence.
    @Test(arguments: [Backend.epoll])
    func aPoolOfAnotherLoopIsReported(backend: Backend) async throws {
        try await withLoopThread(backend, name: "a") { a in
            try await withLoopThread(backend, name: "b") { b in
                let pool = try await makePool(b.loop)
                let listener = try Listener(address: .ipv4Loopback(port: 0))
                defer { listener.close() }
                let accepting = Task(executorPreference: a.loop) { () -> Int in
                    var n = 0
                    for try await c in listener.connections(on: a.loop, using: pool) { n += 1; c.close() }
                    return n
                }
                let (fd, _) = try Socket.connect(to: listener.address, nonBlocking: false)
                defer { Socket.close(fd) }
                try Socket.setNonBlocking(fd)
                _ = try await Peer.readToEnd(fd, limit: .seconds(3))
                let r = await outcome(of: accepting, within: .seconds(3))
                #expect(
                    failed(r, with: .invalidArgument("the loop given is not this pool's loop")),
                    "\(String(describing: r))")
            }
        }
    }
}
