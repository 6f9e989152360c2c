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
    /// The accept side's counts; the connections' own are `connectionCounters`.
    let counters: EchoCounters
    /// The callback API's connections (nil with `api: .async`).
    let connections: Connections?
    /// The async API's connections (nil with `api: .callbacks`).
    let asyncConnections: AsyncConnections?
    /// The counts of whichever serves the connections.
    let connectionCounters: ConnectionCounters

    private let configuration: EchoServer.Configuration
    private let listener: Listener
    private let limit: ConnectionLimit?
    private let notices: EchoNotices
    /// Loop 0's only: whether another loop still runs (see `finish`).
    private let otherLoopsRunning: (@Sendable () -> Bool)?
    private var isFinished = false

    init(
        index: Int, loop io: IsolatedEventLoop, listener: Listener, configuration: EchoServer.Configuration,
        limit: ConnectionLimit?, budget: OutputBudget, descriptorLimitNotice: OnceFlag,
        otherLoopsRunning: (@Sendable () -> Bool)? = nil
    ) throws(SelectorError) {
        self.index = index
        self.otherLoopsRunning = otherLoopsRunning
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
        if configuration.api == .async {
            options.trigger = .level  // pulled connections choose their own trigger
            let pool = try AsyncConnections(on: io, options: options)
            asyncConnections = pool
            connections = nil
            connectionCounters = pool.counters
            EchoWorker.serveAsync(io.eventLoop, listener, pool, limit, counters)
            return
        }
        asyncConnections = nil
        // The handler captures what a connection's end needs, not the worker, which owns
        // the `Connections` (no cycle).
        let ends = ConnectionEnds(limit: limit, notices: notices)
        let connections = try Connections(loop: io, options: options) { connection, event in
            switch event {
            case .received(let bytes):
                // The echo: sent at once, only what the kernel does not take is queued.
                try? connection.write(bytes)
            case .closed(let end):
                ends.closed(end)
            case .outputFull:
                ends.notices.pausedReading()
            case .endOfInput, .outputDrained:
                break
            }
        }
        self.connections = connections
        connectionCounters = connections.counters
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
            try connections.take(fd)
        } catch {
            Socket.close(fd)
            limit?.release()
            counters.registrationErrors.bump()
            notices.registrationRefused(fd, error)
            return
        }
        counters.accepted.bump()
    }

    // MARK: The async API

    /// Accepts on `loop` with `Listener.connections(on:using:)` and echoes each connection in
    /// a task of its own, both on the loop's executor.
    private static func serveAsync(
        _ loop: EventLoop, _ listener: Listener, _ pool: AsyncConnections, _ limit: ConnectionLimit?,
        _ counters: EchoCounters
    ) {
        Task(executorPreference: loop) {
            for try await connection in listener.connections(on: loop, using: pool) {
                if let limit, !limit.reserve() {
                    counters.rejected.bump()
                    connection.abort()
                    continue
                }
                counters.accepted.bump()
                Task(executorPreference: loop) {
                    await echo(connection)
                    limit?.release()
                }
            }
        }
    }

    /// The echo: each chunk is sent on from the loop's buffer as it is read (no copy), and the
    /// task waits only while the client has not read enough of what came back.
    nonisolated(nonsending) private static func echo(_ connection: AsyncConnection) async {
        do {
            while try await connection.read({ bytes in try connection.send(bytes) }) > 0 {
                try await connection.drained()
            }
            connection.close()
        } catch {
            // Reset, closed by a shutdown, cancelled: the connection has ended or ends now.
            connection.close()
        }
    }

    // MARK: Shutting down (loop thread)

    /// Stops accepting and drains the connections (see `Connections.drain`); the loop stops
    /// once none is left, or at `deadline`.
    func beginDrain(until deadline: LoopInstant) {
        guard !isFinished, !(connections?.isDraining ?? asyncConnections!.isDraining) else { return }
        listener.stopAccepting(on: io)
        let done: () -> Void = { [weak self] in self?.finish() }
        if let connections {
            connections.drain(until: deadline, then: done)
        } else {
            asyncConnections!.drain(until: deadline, then: done)
        }
    }

    /// Closes the listener's watch and every connection, and stops the loop. Idempotent.
    func finish() {
        guard !isFinished else { return }
        isFinished = true
        listener.stopAccepting(on: io)
        connections?.closeAll()
        asyncConnections?.closeAll()
        // Loop 0 watches the shutdown signals, and its close puts back their old dispositions:
        // it stops last, so that a second signal during the others' drain still closes at once
        // (the command line's default action would kill the process instead).
        if let otherLoopsRunning, otherLoopsRunning() {
            io.schedule(after: .milliseconds(10), repeating: .milliseconds(10)) { [io] in
                if !otherLoopsRunning() { io.stop() }
            }
            return
        }
        io.stop()
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

/// What the connections' handler needs besides the echo itself: the connection limit to give
/// back and the notices to write. One object, so that it is the handler's whole context: a
/// closure capturing two references unpacks them on every call (callgrind: 5 instructions
/// per echo round trip).
private final class ConnectionEnds {
    let limit: ConnectionLimit?
    let notices: EchoNotices

    init(limit: ConnectionLimit?, notices: EchoNotices) {
        self.limit = limit
        self.notices = notices
    }

    func closed(_ end: ConnectionEnd) {
        limit?.release()
        if end == .idle { notices.closedIdle() }
    }
}
