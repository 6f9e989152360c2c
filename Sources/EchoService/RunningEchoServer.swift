internal import CSelectors
import Selectors
import Synchronization

/// A started echo server: its address, its statistics, and the means to end it.
///
/// ```swift
/// let server = try EchoServer.start(configuration)
/// defer { server.stop() }
/// let (client, _) = try Socket.connect(to: server.address)
/// ```
///
/// Every member may be used from any thread, except that `stop()` and `wait()` must not be
/// called from one of the server's own loop threads (from a handler), since they wait for
/// those threads to end.
public final class RunningEchoServer: Sendable {
    /// The address the server listens on, with the real port when port 0 was asked for.
    public let address: SocketAddress
    /// The configuration the server was started with.
    public let configuration: EchoServer.Configuration

    private let workers: [EchoWorker]
    private let budget: PendingBudget
    // Locked (a pthread mutex), not Synchronization.Mutex, so ThreadSanitizer sees the lock.
    private let threads: Locked<[LoopThread]>
    private let liveThreads: Atomic<Int>
    private let signalCount = Atomic<Int>(0)
    private let failure = Locked<SelectorError?>(nil)

    /// Opens every listener and loop and starts the loops' threads. With
    /// `firstLoopOnCallingThread`, loop 0 gets no thread: the caller runs it with
    /// `runFirstLoop()`, so a one-loop server needs no thread besides the caller's.
    init(_ configuration: EchoServer.Configuration, firstLoopOnCallingThread: Bool = false)
        throws(EchoServerError)
    {
        try configuration.validate()
        let requested: SocketAddress
        do {
            requested = try SocketAddress(host: configuration.host, port: configuration.port)
        } catch {
            throw .invalidConfiguration("host must be a numeric IPv4 or IPv6 address or localhost")
        }
        let limit = configuration.maxConnections.map { ConnectionLimit(maximum: $0) }
        let budget = PendingBudget(
            high: configuration.totalHighWaterMark, low: configuration.totalLowWaterMark)

        // Open the listener and every loop before starting any thread, so a failure leaves
        // nothing behind. One listener, watched by every loop (see `SharedListener`).
        let listener: SharedListener
        let bound: SocketAddress
        do {
            let (fd, address) = try Socket.makeListener(
                address: requested, backlog: configuration.backlog, nonBlocking: true)
            (listener, bound) = (SharedListener(fd: fd), address)
        } catch {
            throw .cannotListen(address: requested, error)
        }
        // The creator's hold: the loops hold the listener from here on.
        defer { listener.release() }
        let descriptorLimitNotice = OnceFlag()
        var workers: [EchoWorker] = []
        func discard() {
            for worker in workers {
                worker.finish()
                worker.loop.close()
            }
        }
        for index in 0..<configuration.threads {
            let loop: EventLoop
            do {
                loop = try EventLoop(backend: configuration.backend)
            } catch {
                discard()
                throw .eventLoop(error)
            }
            let worker = EchoWorker(
                index: index, loop: loop, listener: listener, configuration: configuration, limit: limit,
                descriptorLimitNotice: descriptorLimitNotice, budget: budget)
            workers.append(worker)
            // Weak: the budget outlives no server, and must not keep its workers alive.
            budget.onResume { [weak worker] in
                guard let worker else { return }
                worker.loop.execute { worker.resumeAfterBudget() }
            }
            do {
                try worker.prepare()
            } catch {
                discard()
                throw .eventLoop(error)
            }
        }
        self.address = bound
        self.configuration = configuration
        self.workers = workers
        self.budget = budget
        self.threads = Locked([])
        self.liveThreads = Atomic(workers.count)

        // Signals are watched by the first loop, installed before any thread runs so none
        // arrives with the default (fatal) disposition in place.
        var watched: [(Int32, () -> Void)] = configuration.shutdownSignals.map { signal in
            (signal, { [self] in self.signalReceived(signal) })
        }
        for (signal, handler) in configuration.signalHandlers.sorted(by: { $0.key < $1.key }) {
            watched.append((signal, { [self] in handler(signal, self) }))
        }
        for (signal, handler) in watched {
            do {
                try workers[0].loop.onSignal(signal, handler)
            } catch {
                discard()
                throw .eventLoop(error)
            }
        }
        if let interval = configuration.statisticsInterval {
            workers[0].loop.schedule(after: interval, repeating: interval) { [self] in
                let statistics = self.statistics
                if let report = configuration.statisticsReport {
                    report(statistics)
                } else {
                    configuration.log?("statistics: \(statistics.live)")
                }
            }
        }
        warnOfDescriptorLimit(workers[0].loop)

        var started: [LoopThread] = []
        for worker in workers.dropFirst(firstLoopOnCallingThread ? 1 : 0) {
            do {
                started.append(
                    try LoopThread { [self] in
                        if let error = worker.run() { failure.withLock { $0 = $0 ?? error } }
                        liveThreads.wrappingSubtract(1, ordering: .releasing)
                    })
            } catch {
                // Loops already running end on their own; the others were never started.
                let threadedFrom = firstLoopOnCallingThread ? 1 : 0
                for (index, other) in workers.enumerated() {
                    if index >= threadedFrom && index - threadedFrom < started.count {
                        other.loop.execute { other.finish() }
                    } else {
                        other.finish()
                        other.loop.close()
                    }
                }
                for thread in started { thread.join() }
                throw .thread(error)
            }
        }
        threads.withLock { $0 = started }
    }

    /// Runs loop 0 on the calling thread until the server ends; for servers created with
    /// `firstLoopOnCallingThread`.
    func runFirstLoop() {
        if let error = workers[0].run() { failure.withLock { $0 = $0 ?? error } }
        liveThreads.wrappingSubtract(1, ordering: .releasing)
        wait()
    }

    /// The backend of the server's loops.
    public var backend: Backend { configuration.backend }

    /// The counters of all loops, summed. Any thread, any time (also after the server ended).
    public var statistics: EchoStatistics {
        var total = EchoStatistics()
        for worker in workers { total.add(worker.counters.snapshot) }
        total.peakOutputBufferBytes = budget.peakBufferBytes
        total.totalReadPauses = budget.readPauses
        return total
    }

    /// The counters of each loop, in loop order: how the connections spread over them.
    public var loopStatistics: [EchoStatistics] { workers.map(\.counters.snapshot) }

    /// Whether any loop is still running.
    public var isRunning: Bool { liveThreads.load(ordering: .acquiring) > 0 }

    /// The first error that stopped a loop (a failing `select`), if any.
    public var loopFailure: SelectorError? { failure.withLock { $0 } }

    /// Starts a graceful shutdown and returns at once: stop accepting, write out pending
    /// output, half-close each connection and let clients close, within `drainTimeout` (by
    /// default the configuration's); then close the rest. `wait()` returns when it is done.
    public func shutdown(drainTimeout: Duration? = nil) {
        let deadline = LoopInstant.now.advanced(by: drainTimeout ?? configuration.drainTimeout)
        for worker in workers {
            worker.loop.execute { worker.beginDrain(until: deadline) }
        }
    }

    /// Closes the listeners and every connection at once (pending output is dropped) and
    /// waits for the loops' threads to end. Idempotent. For a server made by `EchoServer.run`,
    /// the loop on the calling thread has no thread to wait for: it ends on its own shortly
    /// after, and `run` returns then.
    public func stop() {
        for worker in workers {
            worker.loop.execute { worker.finish() }
        }
        wait()
    }

    /// Blocks until every loop has ended (after `shutdown`, `stop` or a shutdown signal).
    public func wait() {
        threads.withLock { threads in
            precondition(
                !threads.contains { $0.isCurrent },
                "RunningEchoServer.wait() and stop() cannot be called from the server's own loop thread")
            for thread in threads { thread.join() }
            threads = []
        }
    }

    /// Runs `body` on the first loop's thread after `delay` (a one-shot timer, scheduled from
    /// any thread). Dropped if the loop has ended.
    func runOnFirstLoop(after delay: Duration, _ body: @escaping @Sendable () -> Void) {
        let loop = workers[0].loop
        loop.execute { loop.schedule(after: delay, body) }
    }

    /// A backend that cannot watch every descriptor the process may open (select, below
    /// `FD_SETSIZE`) refuses connections on the higher ones; say so before it happens.
    private func warnOfDescriptorLimit(_ loop: EventLoop) {
        guard let limit = loop.descriptorLimit else { return }
        let openFiles = cselectors_open_files_limit()
        guard openFiles < 0 || openFiles > Int64(limit) else { return }
        let allowed = openFiles < 0 ? "unlimited" : "\(openFiles)"
        configuration.log?(
            "warning: the \(loop.backend) backend cannot watch descriptors from \(limit) up, but the "
                + "open-files limit is \(allowed): connections beyond about \(limit) will be closed at once; "
                + "use epoll or poll, or lower the limit (ulimit -n \(limit))")
    }

    /// First shutdown signal: graceful shutdown. Second: stop at once. On the first loop.
    private func signalReceived(_ signal: Int32) {
        let count = signalCount.wrappingAdd(1, ordering: .relaxed).newValue
        if count == 1 {
            configuration.log?(
                "received \(signalName(signal)); draining connections for up to \(configuration.drainTimeout)"
            )
            shutdown()
        } else {
            configuration.log?("received \(signalName(signal)) again; closing at once")
            for worker in workers {
                worker.loop.execute { worker.finish() }
            }
        }
    }
}
