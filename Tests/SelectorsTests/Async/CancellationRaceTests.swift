import CSelectors
import Selectors
import Testing

/// Cancellation against the other ways a wait ends: before the loop has installed the wait,
/// and at the moment readiness resumes it. Each wait ends exactly once, either way, and leaves
/// nothing behind on the loop.
@Suite(.timeLimit(.minutes(5)), .aheadOfBlockingTests)
struct CancellationRaceTests {
    /// A wait from off the loop, cancelled while the loop is too busy to install it, ends at
    /// once: the cancellation takes the queued waiter back itself and needs the loop for
    /// nothing. Once the loop is free no waiter is left, and a new wait is resumed by data.
    @Test(arguments: Backend.available)
    func aQueuedWaitCancelledWhileTheLoopIsBusyEndsAtOnce(backend: Backend) async throws {
        try await withLoopAndSocketPair(backend) { thread, ours, peer in
            let loop = thread.loop
            let blocker = try await LoopBlocker(loop)
            let waiting = Task { try await loop.readable(ours) }
            try await until("the wait queued behind the blocker") { hasQueuedWork(loop) }
            waiting.cancel()
            let ended = await outcome(of: waiting, within: .seconds(3))
            blocker.release()
            #expect(wasCancelled(ended), "the wait ended with \(String(describing: ended))")
            #expect(try await readinessWaiterCount(loop) == 0)
            let later = Task { try await loop.readable(ours) }
            try await until("a new waiter installed") { try await readinessWaiterCount(loop) == 1 }
            try await Peer.write(peer, "x")
            try await finish(later)
            try await withLoopThreadUnregister(loop, ours)
        }
    }

    /// Data and cancellation arrive together, many times over, for tasks on the loop and off
    /// it: each wait ends once, with success or `CancellationError`; no waiter is left; and
    /// the fd still wakes a later waiter.
    @Test(arguments: Backend.available, [true, false])
    func readinessAndCancellationTogetherEndEachWaitOnce(backend: Backend, onLoop: Bool) async throws {
        try await withLoopAndSocketPair(backend) { thread, ours, peer in
            let loop = thread.loop
            var resumed = 0
            var cancelled = 0
            for _ in 0..<200 {
                let waiting = Task(executorPreference: onLoop ? loop : nil) { try await loop.readable(ours) }
                try await until("a waiter installed") { try await readinessWaiterCount(loop) == 1 }
                try await Peer.write(peer, "x")
                waiting.cancel()
                switch await outcome(of: waiting) {
                case .success: resumed += 1
                case let ended where wasCancelled(ended): cancelled += 1
                case let other: Issue.record("the wait ended with \(String(describing: other))")
                }
                _ = try readAvailableNow(ours)
            }
            #expect(resumed + cancelled == 200, "resumed \(resumed), cancelled \(cancelled)")
            #expect(try await readinessWaiterCount(loop) == 0)
            let later = Task(executorPreference: onLoop ? loop : nil) { try await loop.readable(ours) }
            try await until("a new waiter installed") { try await readinessWaiterCount(loop) == 1 }
            try await Peer.write(peer, "y")
            try await finish(later)
            try await withLoopThreadUnregister(loop, ours)
        }
    }

    /// The same race on an `AsyncConnection`'s read: every byte the peer sent is read exactly
    /// once, in order, whether or not the read that was waiting for it was cancelled.
    @Test(arguments: Backend.available, [true, false])
    func aReadCancelledAsDataArrivesLosesNoBytes(backend: Backend, onLoop: Bool) async throws {
        try await withPooledConnection(backend) { loop, pool, connection, peer in
            var received: [UInt8] = []
            var sent: [UInt8] = []
            for round in 0..<200 {
                let reader = Task(executorPreference: onLoop ? loop : nil) {
                    try await connection.read(upTo: 100)
                }
                try await until("the reader waiting") { try await waiterCount(pool) == 1 }
                let byte = UInt8(truncatingIfNeeded: round)
                sent.append(byte)
                try await Peer.write(peer, [byte])
                reader.cancel()
                if case .success(let bytes) = await outcome(of: reader) { received += bytes }
                #expect(try await waiterCount(pool) == 0)
                // What a cancelled read left in the socket, the next one takes: drain it here.
                while received.count < sent.count {
                    received += try await within(on: onLoop ? loop : nil) {
                        try await connection.read(upTo: 100)
                    }
                }
            }
            #expect(received == sent)
            connection.close()
        }
    }
}
