import CSelectors
import Selectors
import Synchronization
import Testing

/// An actor whose executor is a loop's (its serial role): everything it does runs on the loop
/// thread.
actor LoopPinnedCounter {
    let thread: EventLoopThread
    nonisolated var unownedExecutor: UnownedSerialExecutor { thread.loop.asUnownedSerialExecutor() }
    var count = 0

    init(_ thread: EventLoopThread) { self.thread = thread }

    /// Counts one, and says whether it ran on the loop's thread.
    func increment() -> (onLoopThread: Bool, count: Int) {
        count += 1
        return (thread.isCurrent, count)
    }

    /// Whether the actor runs on the loop's thread before and after a suspension, with its
    /// isolation checks passing there.
    func staysOnTheLoopAcrossSuspensions() async throws -> Bool {
        preconditionIsolated()
        var onLoop = thread.isCurrent
        try await Task.sleep(for: .milliseconds(2))
        onLoop = onLoop && thread.isCurrent
        await Task.yield()
        onLoop = onLoop && thread.isCurrent
        preconditionIsolated()
        return onLoop
    }

    /// Counts one with the isolation checks a closed loop must still satisfy.
    func incrementChecked() -> Int {
        preconditionIsolated()
        count += 1
        return count
    }
}

/// The loop as a Swift concurrency executor (`EventLoop+Executor`): actors pinned to it, tasks
/// preferring it, isolation checks from handlers, and jobs of a closed loop.
@Suite(.timeLimit(.minutes(2)), .aheadOfBlockingTests)
struct LoopExecutorTests {
    @Test(arguments: Backend.available)
    func anActorPinnedToTheLoopRunsOnTheLoopThreadOneJobAtATime(backend: Backend) async throws {
        try await withLoopThread(backend) { thread in
            let counter = LoopPinnedCounter(thread)
            #expect(try await within { try await counter.staysOnTheLoopAcrossSuspensions() })
            // Tasks elsewhere hammer it at once, most from another loop's thread and a few from
            // the cooperative pool: no increment is lost, every one ran on the loop thread.
            try await withLoopThread(backend, name: "callers") { callers in
                let results = try await within { () -> [Bool] in
                    await withTaskGroup(of: [Bool].self) { group in
                        for index in 0..<8 {
                            let fromLoop = index < 4
                            group.addTask(executorPreference: fromLoop ? callers.loop : nil) {
                                var onLoop: [Bool] = []
                                for _ in 0..<(fromLoop ? 250 : 25) {
                                    onLoop.append(await counter.increment().onLoopThread)
                                }
                                return onLoop
                            }
                        }
                        return await group.reduce(into: []) { $0 += $1 }
                    }
                }
                #expect(results.count == 1_100)
                #expect(results.allSatisfy { $0 })
                #expect(await counter.count == 1_100)
            }
        }
    }

    @Test(arguments: Backend.available)
    func aTaskPreferringTheLoopRunsThereAcrossSuspensionsAndSoDoItsChildren(backend: Backend) async throws {
        try await withLoopThread(backend) { thread in
            let loop = thread.loop
            let (beforeAndAfter, children) = try await within(on: loop) { () -> (Bool, [Bool]) in
                var onLoop = thread.isCurrent && loop.isOnLoopThread
                try await Task.sleep(for: .milliseconds(2))
                onLoop = onLoop && thread.isCurrent
                await Task.yield()
                onLoop = onLoop && thread.isCurrent
                // Child tasks inherit the preference.
                let children = await withTaskGroup(of: Bool.self) { group in
                    for _ in 0..<4 { group.addTask { thread.isCurrent } }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                return (onLoop && thread.isCurrent, children)
            }
            #expect(beforeAndAfter)
            #expect(children == [true, true, true, true])
        }
    }

    @Test(arguments: Backend.available)
    func withTaskExecutorPreferenceRunsItsBodyOnTheLoopAndReturnsOffIt(backend: Backend) async throws {
        try await withLoopThread(backend) { thread in
            let loop = thread.loop
            let (inside, after) = try await within { () -> (Bool, Bool) in
                let inside = try await withTaskExecutorPreference(loop) { () async throws -> Bool in
                    var onLoop = thread.isCurrent
                    try await Task.sleep(for: .milliseconds(2))
                    onLoop = onLoop && thread.isCurrent
                    return onLoop
                }
                return (inside, thread.isCurrent)
            }
            #expect(inside)
            #expect(!after)
        }
    }

    /// A selector handler runs on the loop's thread outside any job: `assumeIsolated` of an
    /// actor pinned to the loop and the loop's own isolation checks must accept it.
    @Test(arguments: Backend.available)
    func assumeIsolatedAndPreconditionIsolatedWorkInsideASelectorHandler(backend: Backend) async throws {
        try await withLoopThread(backend) { thread in
            let loop = thread.loop
            let counter = LoopPinnedCounter(thread)
            let (reader, writer) = try Descriptor.makePipe()
            defer {
                Socket.close(reader)
                Socket.close(writer)
            }
            let seen = try await within { () -> [Bool] in
                try await withCheckedThrowingContinuation { continuation in
                    do {
                        try loop.execute {
                            let io = loop.assumeIsolated()
                            do {
                                try io.register(reader, events: .read) { fd, _ in
                                    _ = try? io.unregister(fd)
                                    let count = counter.assumeIsolated { counter in
                                        counter.count += 1
                                        return counter.count
                                    }
                                    counter.preconditionIsolated()
                                    loop.preconditionIsolated()
                                    loop.checkIsolated()
                                    _ = loop.assumeIsolated()
                                    continuation.resume(returning: [
                                        count == 1, loop.isIsolatingCurrentContext() == true,
                                        thread.isCurrent,
                                    ])
                                }
                            } catch {
                                continuation.resume(throwing: error)
                            }
                        }
                    } catch {
                        continuation.resume(throwing: error)
                    }
                    var byte: UInt8 = 1
                    _ = CSelectors.write(writer, &byte, 1)
                }
            }
            #expect(seen == [true, true, true])
            #expect(await counter.count == 1)
            // Off the loop's thread the loop says it is not isolating.
            #expect(loop.isIsolatingCurrentContext() == false)
        }
    }

    @Test func preconditionIsolatedOffTheLoopThreadTraps() async {
        await #expect(processExitsWith: .failure) {
            let thread = try EventLoopThread(name: "pinned")
            LoopPinnedCounter(thread).preconditionIsolated()
        }
    }

    @Test func assumeIsolatedOfAPinnedActorOffTheLoopThreadTraps() async {
        await #expect(processExitsWith: .failure) {
            let thread = try EventLoopThread(name: "pinned")
            readCountAssumingIsolation(LoopPinnedCounter(thread))
        }
    }

    @Test func checkIsolatedOffTheLoopThreadTraps() async {
        await #expect(processExitsWith: .failure) {
            let thread = try EventLoopThread(name: "pinned")
            thread.loop.checkIsolated()
        }
    }

    // MARK: After close

    /// The runtime needs every job run: on a closed loop, a task preferring it and an actor
    /// pinned to it still run (on the enqueuing thread, one job at a time, isolation checks
    /// holding), and awaiting readiness there throws instead of hanging.
    @Test(arguments: Backend.available)
    func tasksAndActorsOfAClosedLoopStillRunAndReadinessThrows(backend: Backend) async throws {
        let thread = try EventLoopThread(name: "closed", backend: backend)
        let loop = thread.loop
        let counter = LoopPinnedCounter(thread)
        thread.shutdown()
        #expect(loop.isClosed)

        let ran = try await within(on: loop) { () -> (Int, Bool) in
            await Task.yield()
            return (42, loop.isOnLoopThread)
        }
        #expect(ran == (42, false))

        // From another loop's thread, where the closed loop's jobs then run.
        let callers = try EventLoopThread(name: "callers", backend: backend)
        defer { callers.shutdown() }
        let counts = try await within { () -> [Int] in
            await withTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 {
                    group.addTask(executorPreference: callers.loop) {
                        var counts: [Int] = []
                        for _ in 0..<100 { counts.append(await counter.incrementChecked()) }
                        return counts
                    }
                }
                return await group.reduce(into: []) { $0 += $1 }
            }
        }
        #expect(counts.sorted() == Array(1...400), "a closed loop's actor lost or repeated increments")

        let (reader, writer) = try Socket.makePair()
        defer {
            Socket.close(reader)
            Socket.close(writer)
        }
        let onLoop = Task(executorPreference: loop) { try await loop.readable(reader) }
        let elsewhere = Task { try await loop.writable(reader) }
        #expect(failed(await outcome(of: onLoop), with: .loopClosed))
        #expect(failed(await outcome(of: elsewhere), with: .loopClosed))
    }

    /// A task suspended with the loop as its executor when the loop closes: it is resumed
    /// after the close, so its next job arrives at a closed loop, runs on the resuming thread,
    /// and the task ends.
    @Test(arguments: Backend.available)
    func aTaskSuspendedWhenItsLoopClosesFinishesOnAnotherThread(backend: Backend) async throws {
        let thread = try EventLoopThread(name: "closing", backend: backend)
        let loop = thread.loop
        let parked = Locked<CheckedContinuation<Void, Never>?>(nil)
        let task = Task(executorPreference: loop) { () -> (Bool, Bool) in
            let before = loop.isOnLoopThread
            await withCheckedContinuation { continuation in parked.withLock { $0 = continuation } }
            return (before, loop.isOnLoopThread)
        }
        try await until("the task suspended") { parked.withLock { $0 != nil } }
        thread.shutdown()
        parked.withLock { $0.take() }?.resume()
        let (before, after) = try await finish(task)
        #expect(before)
        #expect(!after)
    }

    /// Jobs queued when the loop closes (submitted while its thread was busy) all run.
    @Test(arguments: Backend.available)
    func jobsQueuedWhenTheLoopClosesAllRun(backend: Backend) async throws {
        let thread = try EventLoopThread(name: "closing", backend: backend)
        let loop = thread.loop
        let blocker = try await LoopBlocker(loop)
        let ran = SharedCounter()
        let tasks = (0..<200).map { _ in
            Task(executorPreference: loop) {
                ran.increment()
                await Task.yield()
                ran.increment()
            }
        }
        try await until { hasQueuedWork(loop) }
        try await Task.sleep(for: .milliseconds(20))
        thread.stop()
        blocker.release()
        try thread.join()
        for task in tasks { try await finish(task) }
        #expect(ran.value == 400)
    }
}

/// `assumeIsolated` from synchronous code, as it must be called.
private func readCountAssumingIsolation(_ counter: LoopPinnedCounter) {
    _ = counter.assumeIsolated { $0.count }
}
