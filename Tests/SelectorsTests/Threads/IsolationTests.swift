import CSelectors
import Selectors
import Synchronization
import Testing

/// The thread-safety model: `assumeIsolated()` and `LoopBound` work on the loop's thread and
/// trap anywhere else (in every build). The traps are checked in child processes, where
/// they end only that process.
@Suite struct IsolationTests {
    /// A value with state, which only its loop's thread may touch.
    final class Tally {
        var count = 0
    }

    @Test(arguments: Backend.available)
    func assumeIsolatedWorksOnTheLoopThreadInsideATask(backend: Backend) throws {
        let thread = try EventLoopThread(name: uniqueThreadName("iso-ok-"), backend: backend)
        defer { thread.shutdown() }
        let loop = thread.loop
        let fired = SharedFlag()
        let registered = try onLoop(loop) { () -> Bool in
            let io = loop.assumeIsolated()
            io.schedule(after: .milliseconds(1)) { fired.set() }
            return io.eventLoop === loop && !io.isClosed
        }
        #expect(registered == true)
        eventually { fired.isSet }
    }

    @Test func assumeIsolatedOffTheLoopThreadTraps() async {
        await #expect(processExitsWith: .failure) {
            guard let loop = try? EventLoop() else { exit(0) }
            withThreads(1) { _ in
                _ = loop.assumeIsolated()
            } whileRunning: {
            }
            exit(0)
        }
    }

    /// The loop of a thread that ended is not the loop of the next thread created, even when
    /// that thread is given the same `pthread_t` (glibc reuses a joined thread's descriptor).
    @Test
    func assumeIsolatedTrapsOnAThreadCreatedAfterTheLoopsThreadEnded() async {
        await #expect(processExitsWith: .failure) {
            guard let thread = try? EventLoopThread(name: "ended") else { exit(0) }
            thread.shutdown()
            let loop = thread.loop
            for _ in 0..<8 {
                withThreads(1) { _ in
                    _ = loop.assumeIsolated()
                } whileRunning: {
                }
            }
            exit(0)
        }
    }

    @Test(arguments: Backend.available)
    func aLoopBoundValueTravelsThroughOtherThreadsAndIsUsedOnItsLoop(backend: Backend) throws {
        let group = try EventLoopGroup(threads: 2, name: uniqueThreadName("iso-lb-"), backend: backend)
        defer { group.shutdown() }
        let (home, other) = (group.loops[0], group.loops[1])
        let bound = try #require(try onLoop(home) { LoopBound(Tally(), on: home) })
        #expect(bound.loop === home)
        let done = SharedCounter()
        // As in the documentation: from another loop's thread, hop back home to use it.
        for _ in 0..<10 {
            try other.execute {
                try? home.execute {
                    bound.value.count += 1
                    done.increment()
                }
            }
        }
        eventually { done.value == 10 }
        #expect(try onLoop(home) { bound.value.count } == 10)
    }

    @Test func aLoopBoundValueReadOffItsLoopThreadTraps() async {
        await #expect(processExitsWith: .failure) {
            guard let loop = try? EventLoop() else { exit(0) }
            let bound = LoopBound(Tally(), on: loop)
            // On its own thread the value is there; only the other thread may trap.
            guard bound.value.count == 0 else { exit(0) }
            withThreads(1) { _ in
                _ = bound.value
            } whileRunning: {
            }
            exit(0)
        }
    }

    @Test func aLoopBoundMadeOffItsLoopThreadTraps() async {
        await #expect(processExitsWith: .failure) {
            guard let loop = try? EventLoop() else { exit(0) }
            withThreads(1) { _ in
                _ = LoopBound(Tally(), on: loop)
            } whileRunning: {
            }
            exit(0)
        }
    }

    /// `IsolatedEventLoop.execute`: after every handler of the iteration that queued it, and a
    /// task queued by such a task runs at the next iteration, after that one's handlers.
    @Test(arguments: Backend.available)
    func aLocalTaskRunsAfterTheIterationsHandlersAndOneItQueuesAfterTheNext(backend: Backend) throws {
        try withDescriptors { fds in
            let loop = try EventLoop(backend: backend).assumeIsolated()
            defer { loop.close() }
            let (firstRead, firstWrite) = try fds.pipe()
            let (secondRead, secondWrite) = try fds.pipe()
            var order: [String] = []
            var iteration = 0
            try loop.register(firstRead, events: .read) { fd, _ in
                _ = try? drain(fd)
                order.append("first handler \(iteration)")
                loop.execute {
                    order.append("task \(iteration)")
                    loop.execute { order.append("inner task \(iteration)") }
                }
            }
            try loop.register(secondRead, events: .read) { fd, _ in
                _ = try? drain(fd)
                order.append("second handler \(iteration)")
            }
            defer {
                _ = try? loop.unregister(firstRead)
                _ = try? loop.unregister(secondRead)
            }
            try writeAll(firstWrite, "1")
            try writeAll(secondWrite, "2")
            try loop.runOnce(timeout: .seconds(1))
            iteration = 1
            try writeAll(secondWrite, "3")
            try loop.runOnce(timeout: .seconds(1))
            let handlers = Set(order.prefix(2))
            #expect(handlers == ["first handler 0", "second handler 0"])
            #expect(Array(order.dropFirst(2)) == ["task 0", "second handler 1", "inner task 1"])
        }
    }
}
