import CSelectors
import Selectors
import Synchronization
import Testing

/// The waker: submissions coalesce into one wake-up, no wake-up is ever lost, and a closed
/// loop's waker descriptor is never written to again.
@Suite struct EventLoopWakeUpTests {
    @Test(arguments: Backend.available)
    func aThousandTasksSubmittedWhileTheLoopIsIdleRunInOneIteration(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let ran = SharedCounter()
        let remote = loop.eventLoop
        // Submitted from another thread, joined before the loop runs at all: the loop is
        // certainly not draining while these arrive.
        withThreads(1) { _ in
            for _ in 0..<1_000 { try? remote.execute { ran.increment() } }
        } whileRunning: {
        }
        let before = loop.metrics
        try loop.runOnce(timeout: .seconds(1))
        let after = loop.metrics
        #expect(after.iterations - before.iterations == 1)
        #expect(after.tasksRun - before.tasksRun == 1_000)
        #expect(ran.value == 1_000)
        // The waker was drained in that one iteration: nothing is left to report.
        try loop.runOnce(timeout: .zero)
        #expect(loop.metrics.eventsDispatched == after.eventsDispatched)
        #expect(loop.metrics.tasksRun == after.tasksRun)
    }

    @Test(arguments: Backend.available)
    func pingPongOfTenThousandTasksNeverLosesAWakeUp(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let rounds = 10_000
        let (ackReader, ackWriter) = try closeOnExecPipe()
        defer {
            _ = close(ackReader)
            _ = close(ackWriter)
        }
        let ran = SharedCounter()
        let producerGaveUp = SharedFlag()
        let remote = loop.eventLoop
        try withThreads(1) { _ in
            for round in 0..<rounds {
                // Each submission lands just after the loop ran the previous task, i.e.
                // while it is clearing its wake-up flag or about to block again: exactly
                // the window a lost wake-up would fall into.
                try? remote.execute {
                    ran.increment()
                    var byte: UInt8 = 1
                    _ = write(ackWriter, &byte, 1)
                    if round == rounds - 1 { remote.stop() }
                }
                guard waitReadable(ackReader, limit: .seconds(10)) else {
                    producerGaveUp.set()
                    return
                }
                var byte: UInt8 = 0
                _ = read(ackReader, &byte, 1)
            }
        } whileRunning: {
            try runBounded(loop, progress: { ran.value })
        }
        #expect(!producerGaveUp.isSet)
        #expect(ran.value == rounds)
    }

    @Test(arguments: Backend.available)
    func wakeUpAndStopFromAnotherThreadWhileIdleRunOnceReturns(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        // wakeUp() alone, no task: a blocked runOnce without a timeout must still return.
        let woke = SharedFlag()
        let remote = loop.eventLoop
        try withThreads(1) { _ in
            sleep(for: .milliseconds(20))
            woke.set()
            remote.wakeUp()
        } whileRunning: {
            try withDeadline(.seconds(10), onExpiry: { try? remote.execute {} }) {
                try loop.runOnce(timeout: nil)
            }
        }
        #expect(woke.isSet)
    }

    @Test(arguments: Backend.available)
    func wakingAClosedLoopWritesToNoReusedDescriptor(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        loop.close()
        try withDescriptors { fds in
            // The kernel hands out the lowest free numbers, so among these pairs is very
            // likely the number the loop's waker had. (If a parallel test takes it first,
            // this test only checks less; it cannot fail wrongly.)
            var pairs: [(Int32, Int32)] = []
            for _ in 0..<4 { pairs.append(try fds.socketPair()) }
            #expect(throws: SelectorError(.execute, fd: nil, .loopClosed)) { try loop.eventLoop.execute {} }
            loop.wakeUp()
            loop.stop()
            for (first, second) in pairs {
                for (end, peer) in [(first, second), (second, first)] {
                    let leaked = try? readAvailable(peer)
                    #expect(leaked == nil, "a closed loop wrote \(leaked ?? []) into fd \(end)")
                }
            }
        }
    }
}
