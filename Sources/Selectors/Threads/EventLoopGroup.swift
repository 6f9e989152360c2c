import Synchronization

/// Several event loops, each on its own thread, handed out in turn by `next()`.
///
/// ```swift
/// let group = try EventLoopGroup(threads: 4, name: "worker")
/// let loop = group.next()          // round-robin
/// try loop.execute { /* on one of the four threads */ }
/// group.shutdown()                 // stop every loop, wait for every thread
/// ```
///
/// To serve one listening socket from every loop, see `Listener`.
public final class EventLoopGroup: Sendable {
    /// The loops' threads, in creation order.
    public let threads: [EventLoopThread]
    private let turn = Atomic<Int>(0)

    /// Starts `threads` loops on `backend`, on threads named `name-0`, `name-1`, ...; runs
    /// `setUp(index, loop)` on each loop's thread before it starts (see `EventLoopThread`).
    /// - Throws: `SelectorError` with `invalidArgument` (operation `eventLoopGroup`) for fewer
    ///   than one thread; what starting a loop threw, after the loops already started are shut
    ///   down.
    public init(
        threads count: Int, name: String = "selectors-loop", backend: Backend = .default,
        setUp: @escaping @Sendable (_ index: Int, _ loop: IsolatedEventLoop) throws -> Void = { _, _ in }
    ) throws {
        guard count >= 1 else {
            throw SelectorError(
                .eventLoopGroup, fd: nil, .invalidArgument("threads must be at least 1, not \(count)"))
        }
        var started: [EventLoopThread] = []
        do {
            for index in 0..<count {
                started.append(
                    try EventLoopThread(name: "\(name)-\(index)", backend: backend) { io in
                        try setUp(index, io)
                    })
            }
        } catch {
            for thread in started { thread.shutdown() }
            throw error
        }
        threads = started
    }

    /// The loops, in creation order.
    public var loops: [EventLoop] { threads.map(\.loop) }

    /// The next loop in turn (round-robin). Any thread.
    public func next() -> EventLoop {
        let index = turn.wrappingAdd(1, ordering: .relaxed).oldValue
        return threads[Int(UInt(bitPattern: index) % UInt(threads.count))].loop
    }

    /// Makes every loop return from `run()`. Any thread.
    public func stop() {
        for thread in threads { thread.stop() }
    }

    /// Waits for every loop's thread to end. Not from one of them.
    /// - Throws: `join` with `invalidArgument` on one of the group's loop threads, which would
    ///   wait for itself forever (`shutdown()` is the call that works there); nothing is waited
    ///   for then.
    public func join() throws(SelectorError) {
        if threads.contains(where: \.isCurrent) { throw EventLoopThread.joinOnOwnThread }
        for thread in threads { thread.joinOtherThread() }
    }

    /// Stops every loop and waits for every thread. From one of the loops (a handler, task or
    /// timer) it stops every loop and returns without waiting: each thread ends after its
    /// current iteration (see `EventLoopThread.shutdown`), and `join()` elsewhere waits.
    public func shutdown() {
        stop()
        // From one of the loops nothing is joined: two loops shutting the group down at once
        // would each wait for the other's thread, whose iteration never ends.
        if threads.contains(where: \.isCurrent) { return }
        for thread in threads { thread.joinOtherThread() }
    }
}
