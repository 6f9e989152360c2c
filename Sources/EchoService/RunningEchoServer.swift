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

    /// The loops, in index order, as other threads may hold them.
    private let loops: [EchoLoop]
    /// The loops' threads (all of them, or all but the caller's loop 0 in run mode).
    private let group: EventLoopGroup?
    /// Loop 0 when it runs on the calling thread (`EchoServer.run`).
    private let callersLoop: EventLoop?
    private let listener: Listener
    private let budget: OutputBudget
    private let signalCount = Atomic<Int>(0)
    private let failure = Locked<SelectorError?>(nil)
    private let callersLoopRunning = Atomic<Bool>(false)

    /// Opens the listener and starts the loops. With `firstLoopOnCallingThread`, loop 0 is
    /// made on the calling thread, which runs it with `runFirstLoop()`, so a one-loop server
    /// needs no thread besides the caller's.
    init(_ configuration: EchoServer.Configuration, firstLoopOnCallingThread: Bool = false)
        throws(EchoServerError)
    {
        try configuration.validate()
        // Made before the listener, so a refusal leaves nothing open (`validate` checked the
        // marks already).
        let budget: OutputBudget
        do {
            budget = try OutputBudget(
                high: configuration.totalHighWaterMark, low: configuration.totalLowWaterMark)
        } catch {
            throw .invalidConfiguration("total water marks: \(error.reason)")
        }
        let requested: SocketAddress
        do {
            requested = try SocketAddress(host: configuration.host, port: configuration.port)
        } catch {
            throw .invalidConfiguration("host must be a numeric IPv4 or IPv6 address or localhost")
        }
        var listenerOptions = Listener.Options()
        listenerOptions.backlog = configuration.backlog
        listenerOptions.acceptBatch = configuration.acceptBatch
        listenerOptions.retryDelay = configuration.acceptRetryDelay
        listenerOptions.trigger = configuration.trigger
        // Echoes are small writes answered at once: Nagle's algorithm would hold each back
        // until the previous one was acknowledged (it halved the stream scenario's rate).
        listenerOptions.noDelay = true
        let listener: Listener
        do {
            listener = try Listener(address: requested, options: listenerOptions)
        } catch {
            throw .cannotListen(address: requested, error)
        }
        let shared = EchoLoop.Shared(
            configuration: configuration, listener: listener,
            limit: configuration.maxConnections.map { ConnectionLimit(maximum: $0) }, budget: budget,
            descriptorLimitNotice: OnceFlag())
        // Signals and the statistics timer live on loop 0 and need the server, which does
        // not exist until every loop has started: they reach it through this box.
        let server = ServerReference()

        var callersLoop: EventLoop?
        var loops: [EchoLoop] = []
        if firstLoopOnCallingThread {
            do {
                let loop = try EventLoop(backend: configuration.backend)
                callersLoop = loop
                loops.append(try EchoLoop.start(index: 0, on: loop.assumeIsolated(), shared, server))
            } catch {
                callersLoop?.assumeIsolated().close()
                listener.close()
                throw .eventLoop(error)
            }
        }
        let threaded = configuration.threads - loops.count
        var group: EventLoopGroup?
        if threaded > 0 {
            let offset = loops.count
            let started = Locked<[Int: EchoLoop]>([:])
            do {
                group = try EventLoopGroup(
                    threads: threaded, name: "echo-loop", backend: configuration.backend
                ) {
                    index, io in
                    let loop = try EchoLoop.start(index: offset + index, on: io, shared, server)
                    started.withLock { $0[offset + index] = loop }
                }
            } catch {
                callersLoop?.assumeIsolated().close()
                listener.close()
                switch error {
                case let error as SelectorError: throw .eventLoop(error)
                case let error as Errno: throw .thread(error)
                default: throw .thread(.invalidArgument)
                }
            }
            loops += started.withLock { started in (offset..<configuration.threads).compactMap { started[$0] }
            }
        }
        self.address = listener.address
        self.configuration = configuration
        self.loops = loops
        self.group = group
        self.callersLoop = callersLoop
        self.listener = listener
        self.budget = budget
        server.set(self)
        warnOfDescriptorLimit(loops[0].loop)
    }

    /// Runs loop 0 on the calling thread until the server ends; for servers created with
    /// `firstLoopOnCallingThread`.
    func runFirstLoop() {
        if let callersLoop {
            let io = callersLoop.assumeIsolated()
            callersLoopRunning.store(true, ordering: .releasing)
            do {
                try io.run()
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
            io.close()
            callersLoopRunning.store(false, ordering: .releasing)
        }
        // The calling thread is none of the group's, so this waits (it cannot throw).
        try? wait()
    }

    /// The backend of the server's loops.
    public var backend: Backend { configuration.backend }

    /// The counters of all loops, summed. Any thread, any time (also after the server ended).
    public var statistics: EchoStatistics {
        var total = EchoStatistics()
        for loop in loops { total.add(loop.statistics) }
        total.peakOutputBufferBytes = budget.peakBufferBytes
        total.totalReadPauses = budget.readPauses
        return total
    }

    /// The counters of each loop, in loop order: how the connections spread over them.
    public var loopStatistics: [EchoStatistics] { loops.map(\.statistics) }

    /// Whether any loop is still running.
    public var isRunning: Bool {
        callersLoopRunning.load(ordering: .acquiring) || (group?.threads.contains { $0.isRunning } ?? false)
    }

    /// The first error that stopped a loop (a failing `select`), if any.
    public var loopFailure: SelectorError? {
        failure.withLock { $0 } ?? group?.threads.lazy.compactMap(\.runFailure).first
    }

    /// Starts a graceful shutdown and returns at once: stop accepting, close idle connections,
    /// write out pending output, half-close the others and let their clients close, within
    /// `drainTimeout` (by default the configuration's); then close the rest. `wait()` returns
    /// when it is done.
    public func shutdown(drainTimeout: Duration? = nil) {
        let deadline = LoopInstant.now.advanced(by: drainTimeout ?? configuration.drainTimeout)
        listener.close()
        for loop in loops { loop.run { $0.beginDrain(until: deadline) } }
    }

    /// Closes the listener and every connection at once (pending output is dropped) and
    /// waits for the loops' threads to end. Idempotent. For a server made by `EchoServer.run`,
    /// the loop on the calling thread has no thread to wait for: it ends on its own shortly
    /// after, and `run` returns then.
    ///
    /// From one of the server's own loops (a handler, task or timer) it stops them and returns
    /// without waiting, since a loop's thread cannot wait for itself to end.
    public func stop() {
        listener.close()
        for loop in loops { loop.run { $0.finish() } }
        if isOnOwnLoop { return }
        try? wait()
    }

    /// Blocks until every loop's thread has ended (after `shutdown`, `stop` or a shutdown
    /// signal).
    /// - Throws: `join` with `invalidArgument` on one of the server's own loops, which would
    ///   wait for itself forever.
    public func wait() throws(SelectorError) {
        // Loop 0 of a server `EchoServer.run` made is the caller's, not the group's: waiting
        // there for the other loops would hold up the signals that end them.
        if isOnCallersLoop {
            throw SelectorError(
                .join, fd: nil,
                .invalidArgument("called on the server's first loop, which cannot wait for itself to end"))
        }
        try group?.join()
        listener.close()
    }

    /// Whether a loop other than loop 0 still runs (see `EchoWorker.finish`).
    var otherLoopsRunning: Bool {
        group?.threads.dropFirst(callersLoop == nil ? 1 : 0).contains { $0.isRunning } ?? false
    }

    private var isOnOwnLoop: Bool { isOnCallersLoop || group?.threads.contains { $0.isCurrent } ?? false }

    /// Whether the caller runs on loop 0 of a server `EchoServer.run` made, while it runs (once
    /// it has ended, its thread waits for the others in `runFirstLoop`).
    private var isOnCallersLoop: Bool {
        callersLoopRunning.load(ordering: .acquiring) && callersLoop?.isOnLoopThread == true
    }

    /// Runs `body` on the first loop's thread after `delay` (a one-shot timer, scheduled from
    /// any thread). Dropped if the loop has ended.
    func runOnFirstLoop(after delay: Duration, _ body: @escaping @Sendable () -> Void) {
        loops[0].loop.schedule(after: delay, body)
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
    func signalReceived(_ signal: Int32) {
        let count = signalCount.wrappingAdd(1, ordering: .relaxed).newValue
        if count == 1 {
            configuration.log?(
                "received \(signalName(signal)); draining connections for up to \(configuration.drainTimeout)"
            )
            shutdown()
        } else {
            configuration.log?("received \(signalName(signal)) again; closing at once")
            listener.close()
            for loop in loops { loop.run { $0.finish() } }
        }
    }
}
