import CSelectors
import Selectors
import Synchronization
import Testing

/// `EventLoopGroup`: N loop threads named `name-0` ... `name-(N-1)`, handed out round-robin by
/// `next()` (also when many threads ask at once), set up per index, shut down together.
@Suite struct EventLoopGroupTests {
    @Test(arguments: Backend.available)
    func eachLoopRunsOnItsOwnNamedThread(backend: Backend) throws {
        let name = uniqueThreadName("elg-")
        let group = try EventLoopGroup(threads: 3, name: name, backend: backend)
        defer { group.shutdown() }
        #expect(group.threads.count == 3)
        #expect(group.loops.count == 3)
        #expect(group.threads.map(\.name) == (0..<3).map { "\(name)-\($0)" })
        for (index, loop) in group.loops.enumerated() {
            #expect(loop === group.threads[index].loop)
            #expect(loop.backend == backend)
            let seen = try onLoop(loop) { (currentThreadName(), loop.isOnLoopThread) }
            #expect(seen?.1 == true)
            if procShowsThreads { #expect(seen?.0 == "\(name)-\(index)") }
        }
        #expect(Set(group.loops.map(ObjectIdentifier.init)).count == 3, "three different loops")
    }

    /// `shutdown()` from one of the group's loops stops them all, waits for the others and
    /// returns; that loop's thread ends by itself.
    @Test func shutdownFromOneOfTheLoopsStopsThemAllAndReturns() throws {
        let group = try EventLoopGroup(threads: 3, name: uniqueThreadName("elg-self-"))
        let returned = SharedCounter()
        try group.loops[1].execute {
            group.shutdown()
            returned.increment()
        }
        eventually { group.threads.allSatisfy { !$0.isRunning } }
        try group.join()
        #expect(returned.value == 1)
        #expect(group.loops.allSatisfy { $0.isClosed })
    }

    @Test func nextHandsOutTheLoopsInTurn() throws {
        let group = try EventLoopGroup(threads: 3, name: uniqueThreadName("elg-rr-"))
        defer { group.shutdown() }
        let loops = group.loops
        for round in 0..<4 {
            for index in 0..<3 {
                #expect(group.next() === loops[index], "round \(round), turn \(index)")
            }
        }
    }

    /// From many threads at once, every loop is still handed out equally often.
    @Test func nextFromManyThreadsStaysEven() throws {
        let group = try EventLoopGroup(threads: 4, name: uniqueThreadName("elg-even-"))
        defer { group.shutdown() }
        let loops = group.loops.map(ObjectIdentifier.init)
        let counts = Shared<[ObjectIdentifier: Int]>([:])
        let callers = 4
        let perCaller = 1_000
        withThreads(callers) { _ in
            var mine: [ObjectIdentifier: Int] = [:]
            for _ in 0..<perCaller { mine[ObjectIdentifier(group.next()), default: 0] += 1 }
            counts.withLock { total in
                for (loop, count) in mine { total[loop, default: 0] += count }
            }
        } whileRunning: {
        }
        #expect(Set(counts.value.keys) == Set(loops))
        #expect(counts.value.values.allSatisfy { $0 == callers * perCaller / 4 }, "\(counts.value.values)")
    }

    @Test func setUpRunsOncePerLoopOnItsThreadWithItsIndex() throws {
        let name = uniqueThreadName("elg-set-")
        let seen = Shared<[Int: String]>([:])
        let offThread = SharedCounter()
        let group = try EventLoopGroup(threads: 3, name: name) { index, io in
            if !io.eventLoop.isOnLoopThread { offThread.increment() }
            seen.withLock { $0[index] = currentThreadName() ?? "\(name)-\(index)" }
        }
        defer { group.shutdown() }
        #expect(seen.value == [0: "\(name)-0", 1: "\(name)-1", 2: "\(name)-2"])
        #expect(offThread.value == 0)
    }

    @Test func aFailingSetUpShutsDownTheLoopsAlreadyStartedAndThrows() throws {
        let name = uniqueThreadName("elg-bad-")
        let started = Shared<[EventLoop]>([])
        #expect(throws: SetUpFailure(code: 2)) {
            _ = try EventLoopGroup(threads: 4, name: name) { index, io in
                if index == 2 { throw SetUpFailure(code: 2) }
                started.withLock { $0.append(io.eventLoop) }
            }
        }
        #expect(started.value.count == 2)
        let allClosed = started.value.allSatisfy { $0.isClosed }
        #expect(allClosed, "the first two were shut down")
        if procShowsThreads {
            // A joined thread has exited, but /proc may list it until the kernel has reaped
            // it, a moment later (seen under ThreadSanitizer's load).
            let gone = holds(within: .seconds(5)) { !processThreadNames().contains { $0.hasPrefix(name) } }
            #expect(
                gone, "no thread of the group is left: \(processThreadNames().filter { $0.hasPrefix(name) })")
        }
    }

    @Test(arguments: Backend.available)
    func shutdownStopsEveryLoopAndLaterExecuteThrowsLoopClosed(backend: Backend) throws {
        let group = try EventLoopGroup(threads: 2, name: uniqueThreadName("elg-down-"), backend: backend)
        let ran = SharedCounter()
        for loop in group.loops { try loop.execute { ran.increment() } }
        eventually { ran.value == 2 }
        group.shutdown()
        #expect(group.threads.allSatisfy { !$0.isRunning })
        for loop in group.loops {
            #expect(loop.isClosed)
            #expect(throws: SelectorError(.execute, fd: nil, .loopClosed)) { try loop.execute {} }
        }
        #expect(throws: SelectorError(.execute, fd: nil, .loopClosed)) { try group.next().execute {} }
        group.shutdown()
    }

    @Test func stopThenJoinEndsEveryThread() throws {
        let group = try EventLoopGroup(threads: 2, name: uniqueThreadName("elg-stop-"))
        group.stop()
        try group.join()
        let allClosed = group.loops.allSatisfy { $0.isClosed }
        #expect(allClosed)
    }
}
