#if os(Linux)
    /// The scenarios, in the order `all` runs them.
    enum ScenarioKind: String, CaseIterable, Sendable {
        case conn, rr, idle, stream

        var unit: RateUnit {
            switch self {
            case .conn: .cycles
            case .rr, .idle: .roundTrips
            case .stream: .mebibytes
            }
        }
    }

    /// One row: a scenario (at one idle level) on one target.
    struct ScenarioResult {
        let target: String
        let role: TargetRole
        let scenario: ScenarioKind
        /// The number of idle connections held open (idle scenario only).
        let idle: Int?
        let connections: Int
        let size: Int
        let measurement: Measurement
        /// Extra errors found outside the client threads (idle connections that died).
        var note: String?

        var rate: Double {
            scenario.unit.rate(
                operations: measurement.operations, bytes: measurement.bytes, seconds: measurement.seconds)
        }

        /// Rows with the same key are comparable across targets.
        var key: String { idle.map { "idle \($0)" } ?? scenario.rawValue }
    }

    /// Prints each result as it arrives (a table row, or a JSON line with `--json`), keeps the
    /// baseline's rates to show framework-to-raw ratios, and decides the exit status.
    final class Report {
        private let json: Bool
        private var baselineRates: [String: Double] = [:]
        private(set) var results: [ScenarioResult] = []

        init(json: Bool, targetNames: [String]) {
            self.json = json
            columns[0].width = targetNames.reduce(14) { max($0, $1.count) }
        }

        private var columns: [(title: String, width: Int, left: Bool)] = [
            ("target", 14, true), ("scenario", 11, true), ("conns", 6, false), ("size", 8, false),
            ("rate", 13, false), ("unit", 9, true), ("p50", 9, false), ("p99", 9, false), ("p99.9", 9, false),
            ("errors", 7, false), ("vs raw", 7, false),
        ]

        /// The run's settings and the column titles.
        func header(_ settings: String) {
            guard !json else { return }
            Terminal.line(settings)
            Terminal.line(row(columns.map(\.title)))
        }

        /// A note between rows (skipped in JSON mode, which carries notes in its lines).
        func note(_ text: String) {
            if !json { Terminal.line("  " + text) }
        }

        func add(_ result: ScenarioResult) {
            results.append(result)
            if result.role == .baseline { baselineRates[result.key] = result.rate }
            let ratio = ratioToBaseline(result)
            if json {
                Terminal.line(Report.json(result, ratio: ratio))
                return
            }
            let histogram = result.measurement.histogram
            let hasLatency = histogram.count > 0 && result.scenario != .stream
            Terminal.line(
                row([
                    result.target, result.key, String(result.connections), Format.bytes(result.size),
                    result.scenario.unit.format(result.rate), result.scenario.unit.rawValue,
                    hasLatency ? Format.latency(histogram.percentile(0.50)) : "-",
                    hasLatency ? Format.latency(histogram.percentile(0.99)) : "-",
                    hasLatency ? Format.latency(histogram.percentile(0.999)) : "-",
                    String(result.measurement.errors.total), ratio.map { Format.fixed($0, 2) + "x" } ?? "",
                ]))
            if result.measurement.errors.total > 0 {
                Terminal.line("    errors: \(result.measurement.errors.summary)")
            }
            if let note = result.note { Terminal.line("    note: \(note)") }
            if result.measurement.operations == 0 {
                Terminal.line("    note: nothing completed in the measured window (counted as a timeout)")
            }
        }

        /// Each framework target's rates divided by the baseline's, one line per target; only
        /// when both ran.
        func summarizeRatios() {
            let frameworks = results.filter { $0.role == .framework && ratioToBaseline($0) != nil }
            guard !json, !frameworks.isEmpty else { return }
            Terminal.line()
            Terminal.line("framework / raw baseline (rate; above 1.00x the framework is faster):")
            var order: [String] = []
            for result in frameworks where !order.contains(result.target) { order.append(result.target) }
            for target in order {
                let parts = frameworks.filter { $0.target == target }.map {
                    "\($0.key) \(Format.fixed(ratioToBaseline($0)!, 2))x"
                }
                Terminal.line(
                    "  \(Format.padRight(target, columns[0].width)) " + parts.joined(separator: "  "))
            }
        }

        var totalErrors: ErrorCounts {
            results.reduce(into: ErrorCounts()) { $0.merge($1.measurement.errors) }
        }

        private func ratioToBaseline(_ result: ScenarioResult) -> Double? {
            guard result.role == .framework, let baseline = baselineRates[result.key], baseline > 0 else {
                return nil
            }
            return result.rate / baseline
        }

        private func row(_ cells: [String]) -> String {
            let line = zip(cells, columns).map { cell, column in
                column.left ? Format.padRight(cell, column.width) : Format.padLeft(cell, column.width)
            }.joined(separator: " ")
            return String(line.reversed().drop { $0 == " " }.reversed())
        }

        private static func json(_ result: ScenarioResult, ratio: Double?) -> String {
            let measurement = result.measurement
            let errors = measurement.errors
            let histogram = measurement.histogram
            func micros(_ fraction: Double) -> String {
                guard result.scenario != .stream, let value = histogram.percentile(fraction) else {
                    return "null"
                }
                return Format.fixed(Double(value) / 1000, 3)
            }
            var fields: [String] = [
                "\"target\":\(quoted(result.target))",
                "\"role\":\(quoted(result.role.rawValue))",
                "\"scenario\":\(quoted(result.scenario.rawValue))",
                "\"idle\":\(result.idle.map(String.init) ?? "null")",
                "\"connections\":\(result.connections)",
                "\"size\":\(result.size)",
                "\"seconds\":\(Format.fixed(measurement.seconds, 4))",
                "\"operations\":\(measurement.operations)",
                "\"bytes\":\(measurement.bytes)",
                "\"rate\":\(Format.fixed(result.rate, 2))",
                "\"unit\":\(quoted(result.scenario.unit.rawValue))",
                "\"p50_us\":\(micros(0.50))",
                "\"p99_us\":\(micros(0.99))",
                "\"p999_us\":\(micros(0.999))",
                "\"vs_raw\":\(ratio.map { Format.fixed($0, 4) } ?? "null")",
            ]
            fields.append(
                "\"errors\":{\"total\":\(errors.total),\"refused\":\(errors.refused),\"reset\":\(errors.reset),"
                    + "\"short\":\(errors.short),\"mismatch\":\(errors.mismatch),\"timeout\":\(errors.timeout),"
                    + "\"stalled\":\(errors.stalled),\"other\":\(errors.other)}")
            if let note = result.note { fields.append("\"note\":\(quoted(note))") }
            return "{" + fields.joined(separator: ",") + "}"
        }

        private static func quoted(_ text: String) -> String {
            var escaped = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": escaped += "\\\""
                case "\\": escaped += "\\\\"
                case "\n": escaped += "\\n"
                default:
                    if scalar.value < 0x20 {
                        let hex = String(scalar.value, radix: 16)
                        escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else {
                        escaped.unicodeScalars.append(scalar)
                    }
                }
            }
            return escaped + "\""
        }
    }
#endif
