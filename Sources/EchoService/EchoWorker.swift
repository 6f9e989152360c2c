import Selectors
import Synchronization

/// One event loop of an echo server: accepts from the server's `Listener` and echoes every
/// byte back through a `Connections`, which does the buffering, backpressure, idle timeouts,
/// the shared memory budget and the graceful drain. What is left here is the echo itself,
/// the connection limit and the operator's notices.
///
/// Created and used on its loop's thread only; other threads reach it with `loop.execute`
/// (through the `LoopBound` the server keeps).
final class EchoWorker {
    let io: IsolatedEventLoop
    let index: Int
    /// The accept side's counts; the connections' own are `connections.counters`.
    let counters: EchoCounters
    let connections: Connections

    private let configuration: EchoServer.Configuration
    private let listener: Listener
    private let limit: ConnectionLimit?
    private let notices: EchoNotices
    private var isFinished = false

    init(
        index: Int, loop io: IsolatedEventLoop, listener: Listener, configuration: EchoServer.Configuration,
        limit: ConnectionLimit?, budget: OutputBudget, descriptorLimitNotice: OnceFlag
    ) throws(SelectorError) {
        self.index = index
        self.io = io
        self.configuration = configuration
        self.listener = listener
        self.limit = limit
        let counters = EchoCounters()
        self.counters = counters
        let notices = EchoNotices(
            configuration: configuration, backend: io.eventLoop.backend,
            descriptorLimitNotice: descriptorLimitNotice)
        self.notices = notices

        var options = Connections.Options()
        options.highWaterMark = configuration.highWaterMark
        options.lowWaterMark = configuration.lowWaterMark
        options.idleTimeout = configuration.idleTimeout
        options.trigger = configuration.trigger
        options.budget = budget
        options.releasesMemoryWhenIdle = configuration.releasesMemoryWhenIdle
        // The handler captures what a connection's end needs, not the worker, which owns
        // the `Connections` (no cycle).
        connections = try Connections(loop: io, options: options) { connection, event in
            switch event {
            case .received(let bytes):
                // The echo: sent at once, only what the kernel does not take is queued.
                try? connection.write(bytes)
            case .closed(let end):
                limit?.release()
                if end == .idle { notices.closedIdle() }
            case .outputFull:
                notices.pausedReading()
            case .endOfInput, .outputDrained:
                break
            }
        }
        let connections = self.connections
        let keepAliveSeconds = configuration.keepAlive.map { Int32($0.components.seconds) } ?? 0
        try listener.accept(on: io) { event in
            switch event {
            case .accepted(let fd):
                EchoWorker.admit(fd, connections, limit, keepAliveSeconds, counters, notices)
            case .paused(let error):
                counters.acceptPaused(error)
                notices.acceptPaused(error)
            case .resumed(let pauses):
                notices.acceptResumed(after: pauses)
            }
        }
    }

    /// Serves a new connection unless the limit is reached or the selector refuses it.
    private static func admit(
        _ fd: Int32, _ connections: Connections, _ limit: ConnectionLimit?, _ keepAliveSeconds: Int32,
        _ counters: EchoCounters, _ notices: EchoNotices
    ) {
        if let limit, !limit.reserve() {
            counters.rejected.bump()
            Socket.close(fd)
            notices.rejected()
            return
        }
        if keepAliveSeconds > 0 {
            // A connection that cannot be given keepalive is still served.
            try? Socket.setKeepAlive(fd, idleSeconds: keepAliveSeconds)
        }
        do {
            try connections.adopt(fd)
        } catch {
            Socket.close(fd)
            limit?.release()
            counters.registrationErrors.bump()
            notices.registrationRefused(fd, error)
            return
        }
        counters.accepted.bump()
    }

    // MARK: Shutting down (loop thread)

    /// Stops accepting and drains the connections (see `Connections.drain`); the loop stops
    /// once none is left, or at `deadline`.
    func beginDrain(until deadline: LoopInstant) {
        guard !isFinished, !connections.isDraining else { return }
        listener.stopAccepting(on: io)
        connections.drain(until: deadline) { [weak self] in self?.finish() }
    }

    /// Closes the listener's watch and every connection, and stops the loop. Idempotent.
    func finish() {
        guard !isFinished else { return }
        isFinished = true
        listener.stopAccepting(on: io)
        connections.closeAll()
        io.stop()
    }

    /// The worker's statistics: the accept side's and the connections' counts together.
    static func statistics(_ counters: EchoCounters, _ connections: ConnectionCounters) -> EchoStatistics {
        counters.snapshot(with: connections.snapshot)
    }
}

/// The open-connection count shared by all workers when `maxConnections` is set.
final class ConnectionLimit: Sendable {
    private let open = Atomic<Int>(0)
    private let maximum: Int

    init(maximum: Int) { self.maximum = maximum }

    /// Takes a slot; false if all `maximum` are taken.
    func reserve() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue <= maximum { return true }
        open.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }
}
