import CSelectors
import Selectors
import Synchronization
import Testing

/// `loop.readable(fd)` and `loop.writable(fd)` on real socket pairs, on every backend: from a
/// task on the loop and from tasks elsewhere; resumed by readiness, cancellation, unregister
/// and close, each exactly once, with nothing left behind.
@Suite(.timeLimit(.minutes(2)), .aheadOfBlockingTests)
struct AwaitedReadinessTests {
    /// A waiting task is resumed by the data, whether it runs on the loop or elsewhere, and a
    /// second wait after a read that emptied the socket waits again.
    @Test(arguments: Backend.available, [true, false])
    func readableResumesWhenDataArrives(backend: Backend, onLoop: Bool) async throws {
        try await withLoopAndSocketPair(backend) { thread, ours, peer in
            let loop = thread.loop
            for round in 0..<3 {
                let task = Task(executorPreference: onLoop ? loop : nil) { () -> [UInt8]? in
                    try await loop.readable(ours)
                    return try readAvailableNow(ours)
                }
                try await until("a waiter installed") { try await readinessWaiterCount(loop) == 1 }
                try await Peer.write(peer, "round \(round)")
                #expect(try await finish(task) == Array("round \(round)".utf8))
                #expect(try await readinessWaiterCount(loop) == 0)
            }
            // Resumed on the task's own executor: the loop for a task there, elsewhere for others.
            let resumedOn = Task(executorPreference: onLoop ? loop : nil) { () -> Bool in
                try await loop.readable(ours)
                return thread.isCurrent
            }
            try await Peer.write(peer, "x")
            #expect(try await finish(resumedOn) == onLoop)
            _ = try readAvailableNow(ours)
            try await withLoopThreadUnregister(loop, ours)
        }
    }

    /// Readable at end of stream and when data is already there when the wait begins.
    @Test(arguments: Backend.available)
    func readableReturnsForDataAlreadyThereAndForEndOfStream(backend: Backend) async throws {
        try await withLoopThread(backend) { thread in
            let loop = thread.loop
            let (ours, peer) = try Socket.makePair()
            defer { Socket.close(ours) }
            try await Peer.write(peer, "early")
            try await within(on: loop) { try await loop.readable(ours) }
            #expect(try readAvailableNow(ours) == Array("early".utf8))
            Socket.close(peer)
            try await within { try await loop.readable(ours) }
            #expect(try readAvailableNow(ours) == nil)
            try await withLoopThreadUnregister(loop, ours)
        }
    }

    /// A full socket: `writable` waits until the peer reads, then resumes.
    @Test(arguments: Backend.available, [true, false])
    func writableWaitsWhileTheSocketIsFullAndResumesWhenThePeerReads(backend: Backend, onLoop: Bool)
        async throws
    {
        try await withLoopAndSocketPair(backend) { thread, ours, peer in
            let loop = thread.loop
            // Writable at once while there is room.
            try await within(on: onLoop ? loop : nil) { try await loop.writable(ours) }
            let filled = try fillSocketUntilFull(ours)
            #expect(filled > 0)
            let task = Task(executorPreference: onLoop ? loop : nil) { try await loop.writable(ours) }
            try await until("a writer waiting") { try await readinessWaiterCount(loop) == 1 }
            try await Task.sleep(for: .milliseconds(20))
            #expect(try await readinessWaiterCount(loop) == 1, "resumed while the socket was still full")
            _ = try await Peer.read(peer, count: filled)
            try await finish(task)
            #expect(try await readinessWaiterCount(loop) == 0)
            try await withLoopThreadUnregister(loop, ours)
        }
    }

    /// A reader and a writer wait on the same fd at once; each is resumed by its own direction.
    @Test(arguments: Backend.available)
    func aReaderAndAWriterWaitOnOneFdIndependently(backend: Backend) async throws {
        try await withLoopAndSocketPair(backend) { thread, ours, peer in
            let loop = thread.loop
            let filled = try fillSocketUntilFull(ours)
            let reader = Task(executorPreference: loop) { try await loop.readable(ours) }
            let writer = Task { try await loop.writable(ours) }
            try await until { try await readinessWaiterCount(loop) == 2 }
            try await Peer.write(peer, "r")
            try await finish(reader)
            #expect(try await readinessWaiterCount(loop) == 1)
            _ = try await Peer.read(peer, count: filled)
            try await finish(writer)
            #expect(try await readinessWaiterCount(loop) == 0)
            try await withLoopThreadUnregister(loop, ours)
        }
    }

    /// Cancelling a waiting task resumes it with `CancellationError` and removes its waiter:
    /// a later waiter on the same fd and direction is accepted and resumed by the data.
    @Test(arguments: Backend.available, [true, false])
    func cancellingAWaiterResumesItAndLeavesNoWaiter(backend: Backend, onLoop: Bool) async throws {
        try await withLoopAndSocketPair(backend) { thread, ours, peer in
            let loop = thread.loop
            let registrationsBefore = try await registrationCount(loop)
            for _ in 0..<3 {
                let waiting = Task(executorPreference: onLoop ? loop : nil) { try await loop.readable(ours) }
                try await until { try await readinessWaiterCount(loop) == 1 }
                waiting.cancel()
                #expect(wasCancelled(await outcome(of: waiting)))
                #expect(try await readinessWaiterCount(loop) == 0)
            }
            // Where interest is toggled in user space (poll, select) nobody waiting means no
            // registration; with native edges the fd stays registered, as documented.
            let registered = try await registrationCount(loop) - registrationsBefore
            #expect(registered == (loop.capabilities.edge == .native ? 1 : 0))
            let later = Task(executorPreference: onLoop ? loop : nil) { try await loop.readable(ours) }
            try await until { try await readinessWaiterCount(loop) == 1 }
            try await Peer.write(peer, "after")
            try await finish(later)
            try await withLoopThreadUnregister(loop, ours)
        }
    }

    /// A task cancelled before it waits: `readable` throws `CancellationError` at once (no
    /// data will ever come), on a fresh loop and on one that has waited before.
    @Test(arguments: Backend.available, [true, false])
    func aTaskCancelledBeforeItWaitsThrowsAtOnce(backend: Backend, onLoop: Bool) async throws {
        try await withLoopAndSocketPair(backend) { thread, ours, _ in
            let loop = thread.loop
            for _ in 0..<2 {
                let task = Task(executorPreference: onLoop ? loop : nil) {
                    withUnsafeCurrentTask { $0?.cancel() }
                    try await loop.readable(ours)
                }
                #expect(wasCancelled(await outcome(of: task)))
                #expect(try await readinessWaiterCount(loop) == 0)
            }
            try await withLoopThreadUnregister(loop, ours)
        }
    }

    @Test(arguments: Backend.available)
    func aSecondWaiterForTheSameDirectionFailsWithAlreadyWaiting(backend: Backend) async throws {
        try await withLoopAndSocketPair(backend) { thread, ours, peer in
            let loop = thread.loop
            let first = Task(executorPreference: loop) { try await loop.readable(ours) }
            try await until { try await readinessWaiterCount(loop) == 1 }
            let second = Task { try await loop.readable(ours) }
            let third = Task(executorPreference: loop) { try await loop.readable(ours) }
            #expect(failed(await outcome(of: second), with: .alreadyWaiting))
            #expect(failed(await outcome(of: third), with: .alreadyWaiting))
            // The first still waits, and is resumed by the data.
            #expect(try await readinessWaiterCount(loop) == 1)
            try await Peer.write(peer, "x")
            try await finish(first)
            try await withLoopThreadUnregister(loop, ours)
        }
    }

    @Test(arguments: Backend.available)
    func unregisteringTheFdFailsItsWaitersWithNotRegistered(backend: Backend) async throws {
        try await withLoopAndSocketPair(backend) { thread, ours, peer in
            let loop = thread.loop
            _ = try fillSocketUntilFull(ours)
            let reader = Task { try await loop.readable(ours) }
            let writer = Task(executorPreference: loop) { try await loop.writable(ours) }
            try await until { try await readinessWaiterCount(loop) == 2 }
            try await withLoopThreadUnregister(loop, ours)
            let readResult = await outcome(of: reader)
            let writeResult = await outcome(of: writer)
            #expect(failed(readResult, with: .notRegistered), "\(String(describing: readResult))")
            #expect(failed(writeResult, with: .notRegistered), "\(String(describing: writeResult))")
            guard case .failure(let error as SelectorError) = readResult else { return }
            #expect(error == SelectorError(.readable, fd: ours, .notRegistered))
            #expect(try await readinessWaiterCount(loop) == 0)
            // The fd can be waited on again (a new registration).
            let again = Task { try await loop.readable(ours) }
            try await until { try await readinessWaiterCount(loop) == 1 }
            try await Peer.write(peer, "x")
            try await finish(again)
            try await withLoopThreadUnregister(loop, ours)
        }
    }

    @Test(arguments: Backend.available)
    func closingTheLoopFailsEveryWaiterWithLoopClosed(backend: Backend) async throws {
        let thread = try EventLoopThread(name: "closing", backend: backend)
        let loop = thread.loop
        let (a, peerOfA) = try Socket.makePair()
        let (b, peerOfB) = try Socket.makePair()
        defer {
            for fd in [a, peerOfA, b, peerOfB] { Socket.close(fd) }
        }
        _ = try fillSocketUntilFull(b)
        let waiters = [
            Task(executorPreference: loop) { try await loop.readable(a) },
            Task { try await loop.readable(b) },
            Task(executorPreference: loop) { try await loop.writable(b) },
        ]
        try await until { try await readinessWaiterCount(loop) == 3 }
        thread.shutdown()
        for waiter in waiters {
            let result = await outcome(of: waiter)
            #expect(failed(result, with: .loopClosed), "\(String(describing: result))")
        }
    }

    /// A wait requested from another thread while the loop is busy, so that its request is
    /// still queued when the loop closes: the task must end (with `loopClosed`), not hang.
    @Test(arguments: Backend.available)
    func aWaitStillQueuedWhenTheLoopClosesEndsWithLoopClosed(backend: Backend) async throws {
        let thread = try EventLoopThread(name: "closing", backend: backend)
        let loop = thread.loop
        let (ours, peer) = try Socket.makePair()
        defer {
            Socket.close(peer)
            Socket.close(ours)
        }
        let blocker = try await LoopBlocker(loop)
        let waiter = Task { try await loop.readable(ours) }
        try await until("the wait's request queued") { hasQueuedWork(loop) }
        thread.stop()
        blocker.release()
        try thread.join()
        let result = await outcome(of: waiter)
        #expect(failed(result, with: .loopClosed), "\(String(describing: result))")
    }

    @Test(arguments: Backend.available)
    func waitingOnANegativeOrUnwatchableFdFailsAtOnce(backend: Backend) async throws {
        try await withLoopThread(backend) { thread in
            let loop = thread.loop
            let negative = Task { try await loop.readable(-1) }
            #expect(failed(await outcome(of: negative), with: .negativeDescriptor))
            // A regular file: epoll refuses to watch it, and the wait fails with the reason;
            // the backends that accept one find it readable at once.
            var template = Array("/tmp/swift-selectors-async-XXXXXX".utf8CString)
            let file = mkstemp(&template)
            try #require(file >= 0)
            _ = unlink(template)
            defer { Socket.close(file) }
            // Not empty: kqueue reports a file readable only while its offset is below its size.
            try writeAll(file, "x")
            _ = lseek(file, 0, SEEK_SET)
            let waitOnFile = Task(executorPreference: loop) { try await loop.readable(file) }
            let result = await outcome(of: waitOnFile)
            if loop.capabilities.acceptsRegularFiles {
                #expect(throws: Never.self) { try result?.get() }
            } else {
                guard case .failure(let error as SelectorError) = result else {
                    Issue.record("waiting on a regular file: \(String(describing: result))")
                    return
                }
                #expect(error.operation == .readable)
                #expect(error.reason == .system(.notPermitted), "\(error)")
            }
            try await withLoopThreadUnregister(loop, file)
            #expect(try await readinessWaiterCount(loop) == 0)
        }
    }
}

/// Unregisters `fd` from the loop (on its thread), as a user must before closing an fd it
/// waited on.
func withLoopThreadUnregister(_ loop: EventLoop, _ fd: Int32) async throws {
    try await onLoopThread(loop) { io in _ = try? io.unregister(fd) }
}
