import Selectors
import Synchronization

/// One loop of a running echo server, as any thread may hold it: the loop, its counters, and
/// its worker (bound to the loop's thread).
struct EchoLoop: Sendable {
    let loop: EventLoop
    let counters: EchoCounters
    let connectionCounters: ConnectionCounters
    let worker: LoopBound<EchoWorker>

    /// What every loop of a server shares.
    struct Shared: Sendable {
        let configuration: EchoServer.Configuration
        let listener: Listener
        let limit: ConnectionLimit?
        let budget: OutputBudget
        let descriptorLimitNotice: OnceFlag
    }

    /// Sets up loop `index` on its own thread: the worker, and on loop 0 the signals and the
    /// statistics timer.
    static func start(index: Int, on io: IsolatedEventLoop, _ shared: Shared, _ server: ServerReference)
        throws(SelectorError) -> EchoLoop
    {
        let configuration = shared.configuration
        var othersRunning: (@Sendable () -> Bool)?
        if index == 0 && configuration.threads > 1 {
            othersRunning = { @Sendable in
                var running = false
                server.use { running = $0.otherLoopsRunning }
                return running
            }
        }
        let worker = try EchoWorker(
            index: index, loop: io, listener: shared.listener, configuration: configuration,
            limit: shared.limit, budget: shared.budget, descriptorLimitNotice: shared.descriptorLimitNotice,
            otherLoopsRunning: othersRunning)
        if index == 0 {
            for signal in configuration.shutdownSignals {
                try io.onSignal(signal) { server.use { $0.signalReceived(signal) } }
            }
            for (signal, handler) in configuration.signalHandlers.sorted(by: { $0.key < $1.key }) {
                try io.onSignal(signal) { server.use { handler(signal, $0) } }
            }
            if let interval = configuration.statisticsInterval {
                io.schedule(after: interval, repeating: interval) {
                    server.use { server in
                        let statistics = server.statistics
                        if let report = configuration.statisticsReport {
                            report(statistics)
                        } else {
                            configuration.log?("statistics: \(statistics.live)")
                        }
                    }
                }
            }
        }
        return EchoLoop(
            loop: io.eventLoop, counters: worker.counters, connectionCounters: worker.connectionCounters,
            worker: LoopBound(worker, on: io.eventLoop))
    }

    /// The loop's statistics, from any thread.
    var statistics: EchoStatistics { counters.snapshot(with: connectionCounters.snapshot) }

    /// Runs `body` with the worker on the loop's thread; nothing if the loop has closed.
    func run(_ body: @escaping @Sendable (EchoWorker) -> Void) {
        let worker = self.worker
        try? loop.execute { body(worker.value) }
    }
}

/// How loop 0's signal handlers and timers reach the server, which is made only after every
/// loop has started. Weak, so the handlers keep no server alive.
final class ServerReference: Sendable {
    private let box = Locked<WeakServer>(WeakServer())

    private struct WeakServer {
        weak var server: RunningEchoServer?
    }

    func set(_ server: RunningEchoServer) {
        box.withLock { $0.server = server }
    }

    /// Calls `body` with the server, if it exists (yet, and still).
    func use(_ body: (RunningEchoServer) -> Void) {
        if let server = box.withLock({ $0.server }) { body(server) }
    }
}
