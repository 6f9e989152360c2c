import CSelectors
import Synchronization
import Testing

@testable import Selectors

/// An actor pinned to a loop (its serial executor). Each method records whether another of
/// its jobs was running at the same moment: a serial executor must never let that happen.
actor PinnedOverlapProbe {
    let loop: EventLoop
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
    let inside = Atomic<Int>(0)
    let proceed = Atomic<Bool>(false)

    init(_ loop: EventLoop) { self.loop = loop }

    /// Closes the loop from inside one of the actor's jobs (as a handler may), then goes on
    /// working in that job for a while.
    func closeTheLoopAndGoOn() -> Bool {
        var overlapped = inside.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue != 1
        // Until the test has queued `touch` from elsewhere.
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while !proceed.load(ordering: .acquiring), ContinuousClock.now < deadline { usleep(200) }
        loop.assumeIsolated().close()
        usleep(200_000)  // the rest of this job, after the close
        overlapped = overlapped || inside.wrappingAdd(-1, ordering: .acquiringAndReleasing).oldValue != 1
        return overlapped
    }

    /// A short job: whether another job of the actor was running when it began.
    func touch() -> Bool {
        let overlapped = inside.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue != 1
        inside.wrappingAdd(-1, ordering: .acquiringAndReleasing)
        return overlapped
    }
}

@Suite(.timeLimit(.minutes(5)), .aheadOfBlockingTests)
struct CloseFromAnActorJobTests {
    /// A job queued before the close: the close runs it at once, nested inside the job that
    /// is closing, which is still running.
    @Test(arguments: [Backend.epoll, Backend.poll])
    func aQueuedJobDoesNotRunInsideTheJobThatClosesTheLoop(backend: Backend) async throws {
        let thread = try EventLoopThread(name: "h1-actor-close", backend: backend)
        defer { thread.shutdown() }
        let probe = PinnedOverlapProbe(thread.loop)
        let closing = Task { await probe.closeTheLoopAndGoOn() }
        try await until("the closing job running") { probe.inside.load(ordering: .acquiring) == 1 }
        let touching = Task { await probe.touch() }
        try await until("the touch queued") { hasQueuedWork(thread.loop) }
        probe.proceed.store(true, ordering: .releasing)
        let touched = try await finish(touching, within: .seconds(10))
        let closed = try await finish(closing, within: .seconds(10))
        #expect(!touched, "the touch ran while the closing job was still running")
        #expect(!closed)
    }

    /// A job enqueued after the close, from another thread, while the closing job still runs
    /// on the loop's thread: it runs on the enqueuing thread at once, beside it.
    @Test(arguments: [Backend.epoll])
    func aJobEnqueuedAfterTheCloseDoesNotRunBesideTheJobThatClosed(backend: Backend) async throws {
        let thread = try EventLoopThread(name: "h1-actor-close", backend: backend)
        defer { thread.shutdown() }
        let probe = PinnedOverlapProbe(thread.loop)
        probe.proceed.store(true, ordering: .releasing)
        let closing = Task { await probe.closeTheLoopAndGoOn() }
        try await until("the loop closed") { thread.loop.isClosed }
        let touched = try await finish(Task { await probe.touch() }, within: .seconds(10))
        let closed = try await finish(closing, within: .seconds(10))
        #expect(!touched, "the touch ran while the closing job was still running")
        #expect(!closed)
    }
}
