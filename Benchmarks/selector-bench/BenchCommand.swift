#if os(Linux)
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
            let report = Report(json: options.json, targetNames: planned.map(\.target.name))

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
            report.header(
                "selector-bench: \(started.map(\.target.target.name).joined(separator: ", ")); \(threads); "
                    + "\(Format.fixed(options.duration, 2)) s runs after \(Format.fixed(options.warmUp, 2)) s warm-up; "
                    + "fd limit \(fdLimit)")

            let runner = ScenarioRunner(options: options, fdLimit: fdLimit, report: report)
            // Targets take turns within each scenario, so slow drift of the machine affects them alike.
            for scenario in options.scenarios {
                for (target, address) in started { runner.run(scenario, on: target, at: address) }
            }
            for (target, _) in started { target.target.stop() }
            report.summarizeRatios()
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
