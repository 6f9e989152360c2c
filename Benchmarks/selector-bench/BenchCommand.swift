#if os(Linux)
    import EchoService
    import Selectors

    /// The whole run: parse, start targets, run every scenario on every target, report, and
    /// choose the exit status (0 clean, 1 any error, 2 bad arguments).
    enum BenchCommand {
        static func run(_ arguments: [String]) -> Int32 {
            let options: Options
            do { options = try Options.parse(arguments) } catch {
                Terminal.error("selector-bench: \(error.message) (see --help)")
                return 2
            }
            if options.help {
                Terminal.line(Options.usage)
                return 0
            }
            if options.version {
                Terminal.line("selector-bench (swift-selectors) \(SelectorsPackage.version)")
                return 0
            }
            let fdLimit = FileLimit.raiseToHardLimit()
            let planned = plannedTargets(options)
            let report = Report(
                json: options.json, repeats: options.repeats, targetNames: planned.map(\.target.name))

            var started: [(target: PlannedTarget, address: SocketAddress)] = []
            for target in planned {
                do {
                    started.append((target, try target.target.start()))
                } catch {
                    Terminal.error("selector-bench: cannot start \(target.target.name): \(error)")
                    for (target, _) in started { target.target.stop() }
                    return 1
                }
            }
            let threads =
                options.clientThreads == 1 ? "1 client thread" : "\(options.clientThreads) client threads"
            let runs = options.repeats == 1 ? "1 run" : "\(options.repeats) runs (ABBA)"
            report.header(
                "selector-bench: \(started.map(\.target.target.name).joined(separator: ", ")); \(threads); "
                    + "\(runs) of \(Format.fixed(options.duration, 2)) s after \(Format.fixed(options.warmUp, 2)) s warm-up; "
                    + "fd limit \(fdLimit)",
                metadata: metadata(options, fdLimit: fdLimit, targets: started.map(\.target.target.name)))

            let runner = ScenarioRunner(options: options, fdLimit: fdLimit, report: report)
            // Targets take turns within each scenario, in reverse order every other round (A B B
            // A), so slow drift of the machine, and whatever running first or last does to a
            // run, falls on every target alike.
            for scenario in options.scenarios {
                for round in 1...options.repeats {
                    let order = round % 2 == 1 ? started : started.reversed()
                    // Idle: level by level, the targets back to back at each, so the two runs
                    // of a pair (see the summary's paired ratios) are seconds apart, not minutes.
                    let levels: [Int?] = scenario == .idle ? options.idleLevels : [nil]
                    for level in levels {
                        for (target, address) in order {
                            if let level {
                                runner.runIdle(level: level, round: round, on: target, at: address)
                            } else {
                                runner.run(scenario, round: round, on: target, at: address)
                            }
                        }
                    }
                }
            }
            for (target, _) in started { target.target.stop() }
            report.summarize()
            return verdict(report)
        }

        /// The baseline and a framework target per chosen backend and trigger, or the external
        /// target alone.
        static func plannedTargets(_ options: Options) -> [PlannedTarget] {
            if let address = options.target {
                return [PlannedTarget(target: ExternalTarget(address: address), role: .external)]
            }
            return [PlannedTarget(target: RawEpollEchoServer(), role: .baseline)]
                + options.backends.flatMap { backend in
                    options.apis.flatMap { api in
                        options.triggers.map {
                            PlannedTarget(
                                target: FrameworkEchoTarget(backend: backend, trigger: $0, api: api),
                                role: .framework)
                        }
                    }
                }
        }

        /// The `--json` metadata record's fields (values already JSON).
        static func metadata(_ options: Options, fdLimit: Int, targets: [String]) -> [(String, String)] {
            func text(_ value: String) -> String { Report.quoted(value) }
            func list(_ values: [String]) -> String { "[" + values.map(text).joined(separator: ",") + "]" }
            return [
                ("date", text(UTCTimestamp.now())),
                ("host", text(MachineInfo.hostName)),
                ("processor", text(MachineInfo.processor)),
                ("cores", String(MachineInfo.cores)),
                ("kernel", text(MachineInfo.kernel)),
                ("toolchain", text(MachineInfo.toolchain)),
                ("build", text(MachineInfo.buildMode)),
                ("version", text(SelectorsPackage.version)),
                ("targets", list(targets)),
                ("backends", list(options.target == nil ? options.backends.map(\.rawValue) : [])),
                ("triggers", list(options.triggers.map { $0 == .edge ? "edge" : "level" })),
                ("apis", list(options.apis.map(\.rawValue))),
                ("scenarios", list(options.scenarios.map(\.rawValue))),
                ("repeats", String(options.repeats)),
                ("duration_s", Format.fixed(options.duration, 3)),
                ("warmup_s", Format.fixed(options.warmUp, 3)),
                ("connections", String(options.connections)),
                ("size", String(options.size)),
                ("client_threads", String(options.clientThreads)),
                ("fd_limit", String(fdLimit)),
            ]
        }

        /// Any error fails the run; byte errors (a wrong or short echo) are called out loudly.
        private static func verdict(_ report: Report) -> Int32 {
            let errors = report.totalErrors
            guard errors.total > 0 else { return 0 }
            if errors.byteErrors > 0 {
                Terminal.error(
                    "selector-bench: *** BYTE ERRORS: \(errors.byteErrors) echoes came back wrong or short "
                        + "(mismatch \(errors.mismatch), short \(errors.short)) ***")
            }
            for result in report.results where result.measurement.errors.total > 0 {
                Terminal.error(
                    "selector-bench:   \(result.target) \(result.key): \(result.measurement.errors.summary)")
            }
            Terminal.error("selector-bench: FAILED with \(errors.total) errors (\(errors.summary))")
            return 1
        }
    }
#endif
