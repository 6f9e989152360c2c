import CSelectors
import Selectors
import Synchronization
import Testing

/// `execute` from many threads: exactly once, on the loop thread, FIFO per submitter.
@Suite struct EventLoopExecuteTests {
    /// What the tasks saw, checked on the loop thread and read by the test afterwards.
    private final class Ledger: Sendable {
        struct State {
            var nextSequence: [Int]
            var outOfOrder: [String] = []
            var offLoopThread = 0
            var total = 0
        }

        let state: Mutex<State>
        let loopThread: ThreadIdentity

        init(submitters: Int, loopThread: ThreadIdentity) {
            state = Mutex(State(nextSequence: Array(repeating: 0, count: submitters)))
            self.loopThread = loopThread
        }

        /// Records task `sequence` of `submitter`; returns the number of tasks run so far.
        func record(submitter: Int, sequence: Int) -> Int {
            let onLoopThread = ThreadIdentity.current.isSame(as: loopThread)
            return state.withLock { state in
                if !onLoopThread { state.offLoopThread += 1 }
                if state.nextSequence[submitter] != sequence, state.outOfOrder.count < 10 {
                    state.outOfOrder.append(
                        "submitter \(submitter): got \(sequence), expected \(state.nextSequence[submitter])")
                }
                state.nextSequence[submitter] = sequence + 1
                state.total += 1
                return state.total
            }
        }
    }

    @Test(arguments: Backend.available)
    func tasksFromEightThreadsRunExactlyOnceOnTheLoopThreadInPerThreadOrder(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let submitters = 8
        let perSubmitter = 10_000
        let total = submitters * perSubmitter
        let ledger = Ledger(submitters: submitters, loopThread: .current)
        let remote = loop.eventLoop
        try withThreads(submitters) { submitter in
            for sequence in 0..<perSubmitter {
                try? remote.execute {
                    // Whichever task is the last overall stops the loop, so run() returns
                    // only after every task ran.
                    if ledger.record(submitter: submitter, sequence: sequence) == total { remote.stop() }
                }
            }
        } whileRunning: {
            try runBounded(loop, progress: { ledger.state.withLock { $0.total } })
        }
        // Tasks still queued after a watchdog stop would show up here as a short count.
        let state = ledger.state.withLock { $0 }
        #expect(state.total == total)
        #expect(state.offLoopThread == 0)
        #expect(state.outOfOrder.isEmpty, "\(state.outOfOrder)")
        #expect(state.nextSequence == Array(repeating: perSubmitter, count: submitters))
        #expect(loop.metrics.tasksRun == UInt64(total))
    }

    @Test(arguments: Backend.available)
    func aTaskSubmittedFromTheLoopThreadRunsInALaterIteration(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let order = Shared<[String]>([])
        loop.execute {
            order.withLock { $0.append("outer") }
            loop.execute { order.withLock { $0.append("inner") } }
        }
        try loop.runOnce(timeout: .seconds(1))
        #expect(order.value == ["outer"])
        // The inner submission woke the loop itself, so this does not wait the full second.
        try runOnceUntil(loop) { order.withLock { $0.count } == 2 }
        #expect(order.value == ["outer", "inner"])
    }

    @Test(arguments: Backend.available)
    func tasksSubmittedAfterCloseAreRefusedAndQueuedOnesDropped(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        let remote = loop.eventLoop
        let ran = SharedCounter()
        try remote.execute { ran.increment() }
        loop.execute { ran.increment() }
        loop.close()
        #expect(throws: SelectorError(.execute, fd: nil, .loopClosed)) {
            try remote.execute { ran.increment() }
        }
        loop.execute { ran.increment() }
        remote.wakeUp()
        #expect(throws: SelectorError(.run, fd: nil, .loopClosed)) { try loop.runOnce(timeout: .zero) }
        #expect(ran.value == 0)
    }
}
