import Testing

/// What `selector-bench` reports when each scenario runs several times: the order the targets
/// take turns in, and a summary whose medians, ranges and ratios are those of the runs. In the
/// serialized process suite, since each test spawns the benchmark as a child.
extension EchoServerProcessTests {
    @Test func repeatedRunsAlternateTheTargetOrderAndAreSummarizedByMedianAndRange() throws {
        let (status, output, errors) = try runSelectorBench([
            "--quick", "--backend", "epoll", "--scenario", "conn,rr", "--repeat", "3", "--json",
        ])
        #expect(status == 0, "stderr: \(errors)")
        let lines = output.split(separator: "\n").map(String.init)
        let metadata = try #require(lines.first)
        #expect(metadata.hasPrefix(#"{"type":"metadata","date":"20"#), "\(metadata)")
        // The benchmark is built as the tests are.
        #if DEBUG
            let build = #""build":"debug""#
        #else
            let build = #""build":"release""#
        #endif
        for field in [
            #""host":"#, #""processor":"#, #""cores":"#, #""kernel":"Linux "#, #""toolchain":"Swift 6."#,
            build, #""version":"#, #""repeats":3"#,
            #""targets":["raw-epoll","echo-epoll"]"#,
        ] {
            #expect(metadata.contains(field), "\(field) missing from \(metadata)")
        }

        let runs = lines.filter { $0.hasPrefix(#"{"type":"run""#) }
        // Per scenario: round 1 in order, round 2 reversed, round 3 in order again (ABBA...).
        let turns = runs.map { "\(text($0, "scenario")) \(Int(number($0, "round"))) \(text($0, "target"))" }
        let order = ["raw-epoll", "echo-epoll"]
        let expected = ["conn", "rr"].flatMap { scenario in
            [order, order.reversed(), order].enumerated().flatMap { round, targets in
                targets.map { "\(scenario) \(round + 1) \($0)" }
            }
        }
        #expect(turns == expected)

        let summaries = lines.filter { $0.hasPrefix(#"{"type":"summary""#) }
        #expect(summaries.count == 4)
        #expect(lines.count == 1 + runs.count + summaries.count)
        func rates(_ target: String, _ scenario: String) -> [Double] {
            runs.filter { text($0, "target") == target && text($0, "scenario") == scenario }
                .map { number($0, "rate") }.sorted()
        }
        func rate(_ target: String, _ scenario: String, _ round: Int) -> Double {
            runs.first {
                text($0, "target") == target && text($0, "scenario") == scenario
                    && Int(number($0, "round")) == round
            }.map { number($0, "rate") } ?? .nan
        }
        for summary in summaries {
            let (target, scenario) = (text(summary, "target"), text(summary, "scenario"))
            let mine = rates(target, scenario)
            #expect(mine.count == 3 && number(summary, "runs") == 3, "\(summary)")
            #expect(number(summary, "median") == mine[1], "\(summary) against \(mine)")
            #expect(number(summary, "min") == mine[0] && number(summary, "max") == mine[2], "\(summary)")
            guard target == "echo-epoll" else {
                #expect(summary.contains(#""vs_raw_median":null"#), "\(summary)")
                #expect(summary.contains(#""vs_raw_paired_median":null"#), "\(summary)")
                continue
            }
            let raw = rates("raw-epoll", scenario)
            let ratio = mine[1] / raw[1]
            #expect(abs(number(summary, "vs_raw_median") - ratio) < 0.0001, "\(summary) against \(ratio)")
            let overlap = mine[0] <= raw[2] && raw[0] <= mine[2]
            #expect(summary.contains(#""within_noise":\#(overlap)"#), "\(summary)")
            // Paired: each round's own ratio, the two targets' runs of that round divided.
            let paired = (1...3).map { round in
                rate("echo-epoll", scenario, round) / rate("raw-epoll", scenario, round)
            }.sorted()
            #expect(
                abs(number(summary, "vs_raw_paired_median") - paired[1]) < 0.0001,
                "\(summary) against \(paired)")
            #expect(
                abs(number(summary, "vs_raw_paired_min") - paired[0]) < 0.0001, "\(summary) against \(paired)"
            )
            #expect(
                abs(number(summary, "vs_raw_paired_max") - paired[2]) < 0.0001, "\(summary) against \(paired)"
            )
        }
    }

    @Test func aRepeatCountOutsideItsRangeIsRefusedInOneLine() throws {
        for bad in ["0", "101", "two"] {
            let (status, output, errors) = try runSelectorBench(["--repeat", bad])
            #expect(status == 2)
            #expect(output.isEmpty)
            #expect(
                errors
                    == "selector-bench: --repeat needs a whole number from 1 to 100, got '\(bad)' (see --help)\n"
            )
        }
    }

    /// A string field's value in one of the benchmark's JSON lines ("" when absent).
    private func text(_ line: String, _ name: String) -> String {
        guard let start = line.firstRange(of: "\"\(name)\":\"")?.upperBound else { return "" }
        return String(line[start...].prefix { $0 != "\"" })
    }

    /// A number field's value in one of the benchmark's JSON lines (NaN when absent or null).
    private func number(_ line: String, _ name: String) -> Double {
        guard let start = line.firstRange(of: "\"\(name)\":")?.upperBound else { return .nan }
        return Double(String(line[start...].prefix { $0 != "," && $0 != "}" })) ?? .nan
    }
}

/// Runs the built `selector-bench` with `arguments` (for at most a minute): its exit status,
/// standard output and standard error.
func runSelectorBench(_ arguments: [String]) throws -> (status: Int32?, output: String, errors: String) {
    let executable = try builtExecutable("selector-bench")
    let child = try ChildProcess(path: executable, arguments: [executable] + arguments)
    let status = child.waitForExit(timeout: 60)
    return (status.flatMap(ChildProcess.exitCode), child.stdoutText, child.stderrText)
}
