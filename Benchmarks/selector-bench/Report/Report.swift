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
        /// Which of the repeated runs this is, from 1.
        let round: Int
        /// Extra errors found outside the client threads (idle connections that died).
        var note: String?

        var rate: Double {
            scenario.unit.rate(
                operations: measurement.operations, bytes: measurement.bytes, seconds: measurement.seconds)
        }

        /// Rows with the same key are comparable across targets.
        var key: String { idle.map { "idle \($0)" } ?? scenario.rawValue }
    }

    /// Prints each result as it arrives (a table row, or a JSON line with `--json`), then a
    /// summary of each row over the repeated runs (median and range) with the framework-to-raw
    /// ratios, and decides the exit status.
    final class Report {
        private let json: Bool
        private let repeats: Int
        private(set) var results: [ScenarioResult] = []

        init(json: Bool, repeats: Int, targetNames: [String]) {
            self.json = json
            self.repeats = repeats
            columns[0].width = targetNames.reduce(14) { max($0, $1.count) }
            if repeats > 1 { columns.insert(("run", 5, false), at: 2) }
        }

        private var columns: [(title: String, width: Int, left: Bool)] = [
            ("target", 14, true), ("scenario", 11, true), ("conns", 6, false), ("size", 8, false),
            ("rate", 13, false), ("unit", 9, true), ("p50", 9, false), ("p99", 9, false), ("p99.9", 9, false),
            ("errors", 7, false), ("vs raw", 7, false),
        ]

        /// The run's settings and the column titles; with `--json`, the metadata record.
        func header(_ settings: String, metadata: [(String, String)]) {
            guard !json else {
                let fields = [("type", Report.quoted("metadata"))] + metadata
                Terminal.line(
                    "{" + fields.map { "\(Report.quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}")
                return
            }
            Terminal.line(settings)
            Terminal.line(row(columns.map(\.title)))
        }

        /// A note between rows (skipped in JSON mode, which carries notes in its lines).
        func note(_ text: String) {
            if !json { Terminal.line("  " + text) }
        }

        func add(_ result: ScenarioResult) {
            results.append(result)
            // With repeats, a row's ratio waits for the summary: in reversed rounds the
            // baseline has not run yet, and one run's ratio is what the summary is there to avoid.
            let ratio = repeats == 1 ? ratioToBaseline(result) : nil
            if json {
                Terminal.line(Report.json(result, ratio: ratio))
                return
            }
            let histogram = result.measurement.histogram
            let hasLatency = histogram.count > 0 && result.scenario != .stream
            let run = repeats > 1 ? ["\(result.round)/\(repeats)"] : []
            Terminal.line(
                row(
                    [result.target, result.key] + run + [
                        String(result.connections), Format.bytes(result.size),
                        result.scenario.unit.format(result.rate), result.scenario.unit.rawValue,
                        hasLatency ? Format.latency(histogram.percentile(0.50)) : "-",
                        hasLatency ? Format.latency(histogram.percentile(0.99)) : "-",
                        hasLatency ? Format.latency(histogram.percentile(0.999)) : "-",
                        String(result.measurement.errors.total),
                        ratio.map { Format.fixed($0, 2) + "x" } ?? "",
                    ]))
            if result.measurement.errors.total > 0 {
                Terminal.line("    errors: \(result.measurement.errors.summary)")
            }
            if let note = result.note { Terminal.line("    note: \(note)") }
            if result.measurement.operations == 0 {
                Terminal.line("    note: nothing completed in the measured window (counted as a timeout)")
            }
        }

        /// Each row over its runs: median and range; and each framework target's medians
        /// divided by the baseline's, marked "within noise" where the two ranges overlap.
        func summarize() {
            let rows = spreads()
            if json {
                for row in rows { Terminal.line(Report.json(row)) }
                return
            }
            if repeats > 1 {
                Terminal.line()
                Terminal.line(
                    "medians of \(repeats) runs (min-max); a ratio is within noise when the framework's range "
                        + "overlaps the baseline's;")
                Terminal.line(
                    "paired: the median (min-max) of each round's framework/baseline ratio, the two run "
                        + "back to back, so a machine that changes speed between rounds moves both:")
                for row in rows {
                    let unit = row.scenario.unit
                    var line =
                        "  \(Format.padRight(row.target, columns[0].width)) \(Format.padRight(row.key, 11)) "
                        + Format.padLeft(unit.format(row.spread.median), 13) + " \(unit.rawValue)  ("
                        + "\(unit.format(row.spread.minimum))-\(unit.format(row.spread.maximum)))"
                    if let ratio = row.ratio {
                        line +=
                            "  \(Format.fixed(ratio.value, 2))x" + (ratio.withinNoise ? " within noise" : "")
                    }
                    if let paired = row.paired {
                        line +=
                            "; paired \(Format.fixed(paired.median, 2))x "
                            + "(\(Format.fixed(paired.minimum, 2))-\(Format.fixed(paired.maximum, 2)))"
                    }
                    Terminal.line(line)
                }
            }
            let frameworks = rows.filter { $0.ratio != nil }
            guard !frameworks.isEmpty else { return }
            Terminal.line()
            Terminal.line(
                "framework / raw baseline (rate\(repeats > 1 ? ", medians" : ""); above 1.00x the framework is faster"
                    + (repeats > 1
                        ? "; ~ marks a difference within noise):" : "; single runs, no noise estimate):"))
            var order: [String] = []
            for row in frameworks where !order.contains(row.target) { order.append(row.target) }
            for target in order {
                let parts = frameworks.filter { $0.target == target }.compactMap { row in
                    row.ratio.map { ratio in
                        "\(row.key) \(Format.fixed(ratio.value, 2))x\(ratio.withinNoise ? "~" : "")"
                            + (row.paired.map { " (paired \(Format.fixed($0.median, 2))x)" } ?? "")
                    }
                }
                Terminal.line(
                    "  \(Format.padRight(target, columns[0].width)) " + parts.joined(separator: "  "))
            }
        }

        /// One row of the summary: a scenario (at one idle level) on one target, over its runs.
        struct SpreadRow {
            let target: String
            let role: TargetRole
            let scenario: ScenarioKind
            let key: String
            let spread: RunSpread
            /// A framework row's median over the baseline's of the same key, and whether their
            /// ranges overlap; nil for other rows, or with no baseline.
            var ratio: (value: Double, withinNoise: Bool)?
            /// A framework row's ratio to the baseline round by round (each round runs the two
            /// back to back), over the rounds: nil for other rows, and for single runs.
            var paired: RunSpread?
        }

        /// The results grouped by target and key, in the order they first ran, with the
        /// framework rows' ratios to the baseline.
        private func spreads() -> [SpreadRow] {
            var order: [String] = []
            var groups: [String: [ScenarioResult]] = [:]
            for result in results {
                let id = result.target + "\u{0}" + result.key
                if groups[id] == nil { order.append(id) }
                groups[id, default: []].append(result)
            }
            var roundRates: [String: [Int: Double]] = [:]
            for (id, runs) in groups {
                roundRates[id] = Dictionary(
                    runs.map { ($0.round, $0.rate) }, uniquingKeysWith: { first, _ in first })
            }
            var rows = order.map { id in
                let runs = groups[id]!
                let first = runs[0]
                return SpreadRow(
                    target: first.target, role: first.role, scenario: first.scenario, key: first.key,
                    spread: RunSpread(runs.map(\.rate)))
            }
            for index in rows.indices where rows[index].role == .framework {
                let row = rows[index]
                guard let baseline = rows.first(where: { $0.role == .baseline && $0.key == row.key }),
                    baseline.spread.median > 0
                else { continue }
                rows[index].ratio = (
                    row.spread.median / baseline.spread.median, row.spread.overlaps(baseline.spread)
                )
                let own = roundRates[row.target + "\u{0}" + row.key] ?? [:]
                let base = roundRates[baseline.target + "\u{0}" + row.key] ?? [:]
                let ratios = own.compactMap { round, rate in base[round].flatMap { $0 > 0 ? rate / $0 : nil }
                }
                if ratios.count > 1 { rows[index].paired = RunSpread(ratios) }
            }
            return rows
        }

        var totalErrors: ErrorCounts {
            results.reduce(into: ErrorCounts()) { $0.merge($1.measurement.errors) }
        }

        /// A single run's rate over the baseline's run of the same key (without repeats the
        /// baseline runs first in every scenario).
        private func ratioToBaseline(_ result: ScenarioResult) -> Double? {
            guard result.role == .framework,
                let baseline = results.last(where: { $0.role == .baseline && $0.key == result.key }),
                baseline.rate > 0
            else { return nil }
            return result.rate / baseline.rate
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
                "\"type\":\"run\"",
                "\"round\":\(result.round)",
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

        private static func json(_ row: SpreadRow) -> String {
            let ratio = row.ratio
            let fields: [String] = [
                "\"type\":\"summary\"",
                "\"target\":\(quoted(row.target))",
                "\"role\":\(quoted(row.role.rawValue))",
                "\"scenario\":\(quoted(row.scenario.rawValue))",
                "\"key\":\(quoted(row.key))",
                "\"runs\":\(row.spread.rates.count)",
                "\"unit\":\(quoted(row.scenario.unit.rawValue))",
                "\"median\":\(Format.fixed(row.spread.median, 2))",
                "\"min\":\(Format.fixed(row.spread.minimum, 2))",
                "\"max\":\(Format.fixed(row.spread.maximum, 2))",
                "\"vs_raw_median\":\(ratio.map { Format.fixed($0.value, 4) } ?? "null")",
                "\"within_noise\":\(ratio.map { String($0.withinNoise) } ?? "null")",
                "\"vs_raw_paired_median\":\(row.paired.map { Format.fixed($0.median, 4) } ?? "null")",
                "\"vs_raw_paired_min\":\(row.paired.map { Format.fixed($0.minimum, 4) } ?? "null")",
                "\"vs_raw_paired_max\":\(row.paired.map { Format.fixed($0.maximum, 4) } ?? "null")",
            ]
            return "{" + fields.joined(separator: ",") + "}"
        }

        static func quoted(_ text: String) -> String {
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
