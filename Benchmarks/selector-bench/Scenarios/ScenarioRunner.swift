#if os(Linux)
    import Selectors

    /// Runs one scenario against one started target and hands the result to the report.
    struct ScenarioRunner {
        let options: Options
        let fdLimit: Int
        let report: Report

        /// One run (round `round`, from 1) of `scenario` on `target` at `address`; for `idle`,
        /// one run of `runIdle` per level.
        func run(_ scenario: ScenarioKind, round: Int, on target: PlannedTarget, at address: SocketAddress) {
            switch scenario {
            case .conn:
                let measurement = measure(
                    target, scenario, address, connections: options.connections, size: options.size
                ) {
                    EchoClientWorker(mode: .connectPerCycle, settings: $0)
                }
                add(target, scenario, round, idle: nil, options.connections, options.size, measurement)
            case .rr:
                let measurement = measure(
                    target, scenario, address, connections: options.connections, size: options.size
                ) {
                    EchoClientWorker(mode: .persistent, settings: $0)
                }
                add(target, scenario, round, idle: nil, options.connections, options.size, measurement)
            case .stream:
                let count = options.streamConnections
                let measurement = measure(
                    target, scenario, address, connections: count, size: options.streamWriteSize
                ) {
                    StreamWorker(settings: $0)
                }
                add(target, scenario, round, idle: nil, count, options.streamWriteSize, measurement)
            case .idle:
                for level in options.idleLevels {
                    runIdle(level: level, round: round, on: target, at: address)
                }
            }
        }

        /// rr beside `level` idle connections, opened for this run and closed after it (so the
        /// targets can take turns level by level: both cannot hold 10,000 under the usual
        /// descriptor limit).
        func runIdle(level: Int, round: Int, on target: PlannedTarget, at address: SocketAddress) {
            let perConnection = target.role.descriptorsPerConnection
            // Headroom for the active connections, listeners, epoll and event fds, and stdio.
            let reserve = 128 + options.connections * perConnection
            let usable = min(fdLimit, target.target.descriptorCeiling ?? fdLimit)
            let fitting = max(0, (usable - reserve) / perConnection)
            let idle = IdleConnections(target: address)
            defer {
                idle.closeAll()
                // The server sees thousands of ends of stream: let it finish them before the
                // next run measures.
                if level > 0 { Monotonic.sleep(seconds: max(options.settle, Double(level) / 100_000)) }
            }
            var note: String?
            let count = min(level, fitting)
            if count < level {
                note =
                    "\(level) idle capped to \(count): fd limit \(usable), \(perConnection) fds per connection"
                report.note(
                    "idle \(level) on \(target.target.name) capped to \(count) (fd limit \(usable))")
            }
            if count > idle.count {
                ProgressLine(
                    enabled: Terminal.isInteractive && !options.json, label: "\(target.target.name) idle",
                    unit: .roundTrips
                ).message("opening \(count - idle.count) idle connections")
            }
            var openErrors = idle.grow(
                to: count, timeoutMilliseconds: Int32(options.operationTimeout * 1000))
            var measurement = measure(
                target, .idle, address, connections: options.connections, size: options.size
            ) {
                EchoClientWorker(mode: .persistent, settings: $0)
            }
            openErrors.merge(idle.checkAlive())
            measurement.errors.merge(openErrors)
            if openErrors.total > 0 {
                note = (note.map { $0 + "; " } ?? "") + "idle connections: \(openErrors.summary)"
            }
            var result = ScenarioResult(
                target: target.target.name, role: target.role, scenario: .idle, idle: count,
                connections: options.connections, size: options.size, measurement: measurement,
                round: round)
            result.note = note
            report.add(result)
        }

        /// Spreads `connections` over the client threads and runs them through the harness.
        private func measure(
            _ target: PlannedTarget, _ scenario: ScenarioKind, _ address: SocketAddress, connections: Int,
            size: Int,
            makeWorker: @escaping @Sendable (ClientSettings) -> any ClientWorker
        ) -> Measurement {
            let threads = min(options.clientThreads, connections)
            var shares: [ClientSettings] = []
            var first = 0
            for thread in 0..<threads {
                let count = connections / threads + (thread < connections % threads ? 1 : 0)
                shares.append(
                    ClientSettings(
                        target: address, connections: count, firstConnection: first, size: size,
                        operationTimeout: Int64(options.operationTimeout * 1e9), thread: thread))
                first += count
            }
            let label = "\(target.target.name) \(scenario.rawValue)"
            let progress = ProgressLine(
                enabled: Terminal.isInteractive && !options.json, label: label, unit: scenario.unit)
            let timing = RunTiming(
                warmUp: options.warmUp, duration: options.duration, grace: options.operationTimeout)
            let frozen = shares
            let measurement = Harness.run(threads: threads, timing: timing, progress: progress) {
                makeWorker(frozen[$0])
            }
            Monotonic.sleep(seconds: options.settle)
            return measurement
        }

        private func add(
            _ target: PlannedTarget, _ scenario: ScenarioKind, _ round: Int, idle: Int?, _ connections: Int,
            _ size: Int, _ measurement: Measurement
        ) {
            report.add(
                ScenarioResult(
                    target: target.target.name, role: target.role, scenario: scenario, idle: idle,
                    connections: connections, size: size, measurement: measurement, round: round))
        }
    }
#endif
