#if os(Linux)
    import EchoService
    import Selectors

    /// The command line, parsed and with defaults applied (`--quick` changes the defaults,
    /// explicit options still win).
    struct Options: Sendable {
        var duration = 3.0
        var warmUp = 0.5
        var connections = 32
        var size = 64
        var idleLevels = [0, 1000, 5000, 10000]
        var scenarios = ScenarioKind.allCases
        var backends = Backend.available
        var triggers: [Trigger] = [.level]
        var apis: [EchoServer.API] = [.callbacks]
        var target: SocketAddress?
        var quick = false
        var json = false
        /// Runs of each scenario on each target, the targets' order reversed every other round.
        var repeats = 3
        var clientThreads = 1
        var streamConnections = 4
        var streamWriteSize = 64 << 10
        /// An operation without an answer for this long counts as a timeout.
        var operationTimeout = 2.0
        /// A pause between runs so the server can finish closing the last run's connections.
        var settle = 0.05
        var help = false
        var version = false

        static let usage = """
            usage: selector-bench [options]

            Loads echo servers over loopback and reports throughput, latency and errors. The
            project's echo server on each chosen backend, and a raw epoll echo loop written on the
            system calls as the baseline, run in this process, each on its own thread; --target
            loads a server elsewhere instead.

            scenarios:
              conn     C clients, each cycle: connect, send S bytes, read the echo, close (cycles/s)
              rr       N persistent connections ping-pong S-byte messages (round trips/s, latency)
              idle     rr while K idle connections are held open, for each K in --idle
              stream   a few connections stream large writes both ways (MiB/s)
            Latency columns, measured in the client: conn from the connect call to the echo's
            last byte; rr and idle from sending a message to reading its echo's last byte.
            Every byte is verified; errors are counted by kind (refused, reset, short, mismatch,
            timeout, stalled, other) and any error makes the exit status non-zero. When a run
            ends, operations in flight get up to the operation timeout to complete; any still
            unanswered then is a stall, so even a short run catches a server that hangs.

            options:
              --scenario LIST      conn|rr|idle|stream|all, comma-separated (default all)
              --duration SECONDS   measured time per run (default 3; --quick 0.08)
              --warmup SECONDS     unmeasured time before each run (default 0.5; --quick 0.02)
              --connections N      conn clients / rr connections (default 32; --quick 8)
              --size BYTES         message size for conn, rr, idle (default 64)
              --idle LIST          idle connection counts (default 0,1000,5000,10000;
                                   --quick 0,100,400); capped to what the fd limit allows
              --stream-connections N  connections in stream (default 4; --quick 2)
              --repeat N           runs of each scenario on each target (default 3): the
                                   targets take turns, in reverse order every other round
                                   (ABBA), and the summary gives each row's median and range
              --threads N          client threads, each with its own epoll loop (default 1)
              --backend NAME       framework backends to run: all|epoll|uring|poll|select (default
                                   all available; uring where io_uring is usable)
              --trigger MODE       level|edge|all: the echo server's trigger mode; all runs each
                                   backend both ways, named echo-BACKEND and echo-BACKEND-edge
                                   (default level)
              --api API            callbacks|async|all: how the echo server serves connections; all
                                   runs each backend both ways, async ones named echo-BACKEND-async
                                   (default callbacks)
              --target HOST:PORT   load an external echo server instead (e.g. 127.0.0.1:7000);
                                   --backend, --trigger and --api do not apply to it
              --quick              short runs for CI (0.08 s each, about 2 s per target)
              --json               JSON lines instead of the table: the machine and build first,
                                   then one per run, then one per row with its median and range
              --version            print the version
              --help               this text
              --                   end of options (no other arguments are taken)
            """

        /// A command-line mistake: reported in one line, exit status 2.
        struct Mistake: Error {
            let message: String
        }

        static func parse(_ arguments: [String]) throws(Mistake) -> Options {
            var values: [String: String] = [:]
            var flags: Set<String> = []
            // A first `--` is the separator `swift run selector-bench -- ...` passes through;
            // any later one ends the options (there are no other arguments to take).
            var index = arguments.first == "--" ? 1 : 0
            let valued: Set<String> = [
                "--scenario", "--duration", "--warmup", "--connections", "--size", "--idle",
                "--stream-connections",
                "--threads", "--backend", "--trigger", "--api", "--target", "--repeat",
            ]
            let boolean: Set<String> = ["--quick", "--json", "--help", "-h", "--version"]
            var optionsEnded = false
            while index < arguments.count {
                let argument = arguments[index]
                index += 1
                if argument == "--" && !optionsEnded {
                    optionsEnded = true
                    continue
                }
                if optionsEnded {
                    throw Mistake(message: "unexpected argument \(EchoServerCommand.quoted(argument))")
                }
                var name = argument
                var value: String?
                if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                    name = String(argument[..<equals])
                    value = String(argument[argument.index(after: equals)...])
                }
                if boolean.contains(name) {
                    guard value == nil else { throw Mistake(message: "\(name) takes no value") }
                    flags.insert(name == "-h" ? "--help" : name)
                } else if valued.contains(name) {
                    if value == nil {
                        guard index < arguments.count else { throw Mistake(message: "\(name) needs a value") }
                        value = arguments[index]
                        index += 1
                    }
                    values[name] = value
                } else {
                    throw Mistake(message: "unknown argument \(EchoServerCommand.quoted(argument))")
                }
            }

            var options = Options()
            if flags.contains("--help") {
                options.help = true
                return options
            }
            if flags.contains("--version") {
                options.version = true
                return options
            }
            if flags.contains("--quick") {
                options.quick = true
                options.duration = 0.08
                options.warmUp = 0.02
                options.connections = 8
                options.idleLevels = [0, 100, 400]
                options.streamConnections = 2
                options.operationTimeout = 1
                options.settle = 0.01
            }
            options.json = flags.contains("--json")
            if let text = values["--duration"] {
                options.duration = try seconds(text, "--duration", minimum: 0.01)
            }
            if let text = values["--warmup"] { options.warmUp = try seconds(text, "--warmup", minimum: 0) }
            if let text = values["--connections"] {
                options.connections = try count(text, "--connections", 1...20_000)
            }
            if let text = values["--size"] { options.size = try count(text, "--size", 1...(16 << 20)) }
            if let text = values["--stream-connections"] {
                options.streamConnections = try count(text, "--stream-connections", 1...256)
            }
            if let text = values["--repeat"] { options.repeats = try count(text, "--repeat", 1...100) }
            if let text = values["--threads"] { options.clientThreads = try count(text, "--threads", 1...16) }
            if let text = values["--idle"] {
                options.idleLevels = try text.split(separator: ",", omittingEmptySubsequences: false).map {
                    (part) throws(Mistake) in try count(String(part), "--idle", 0...1_000_000)
                }.sorted()
            }
            if let text = values["--scenario"] { options.scenarios = try scenarios(text) }
            if let text = values["--backend"] {
                if text == "all" {
                    options.backends = Backend.available
                } else if let backend = Backend(name: text), backend.isAvailable {
                    options.backends = [backend]
                } else {
                    let names = (["all"] + Backend.available.map(\.rawValue)).joined(separator: "|")
                    // One this system lacks (io_uring switched off, say) is named with the reason.
                    if let known = Backend(name: text), known != .scripted {
                        let reason = SelectorError(.create, fd: nil, .backendUnavailable(known)).reason
                        throw Mistake(message: "--backend must be \(names): \(reason)")
                    }
                    throw Mistake(
                        message: "--backend must be \(names), got \(EchoServerCommand.quoted(text))")
                }
            }
            if let text = values["--trigger"] {
                switch text {
                case "all": options.triggers = [.level, .edge]
                case "level": options.triggers = [.level]
                case "edge": options.triggers = [.edge]
                default:
                    throw Mistake(
                        message: "--trigger must be level, edge or all, got \(EchoServerCommand.quoted(text))"
                    )
                }
            }
            if let text = values["--api"] {
                switch text {
                case "all": options.apis = EchoServer.API.allCases
                case "callbacks": options.apis = [.callbacks]
                case "async": options.apis = [.async]
                default:
                    throw Mistake(
                        message:
                            "--api must be callbacks, async or all, got \(EchoServerCommand.quoted(text))")
                }
            }
            if let text = values["--target"] {
                // Port 0 parses, but no server can be reached there: every connect is refused.
                guard let target = try? SocketAddress(parsing: text), target.port != 0 else {
                    throw Mistake(
                        message:
                            "--target needs a numeric HOST:PORT such as 127.0.0.1:7000 or [::1]:7000, got \(EchoServerCommand.quoted(text))"
                    )
                }
                options.target = target
                // They choose the servers run here; an external one is measured as it is.
                let chooses = ["--backend", "--trigger", "--api"].filter { values[$0] != nil }
                if !chooses.isEmpty {
                    throw Mistake(
                        message:
                            "\(chooses.joined(separator: ", ")) choose\(chooses.count == 1 ? "s" : "") the servers run here, not one at --target: leave \(chooses.count == 1 ? "it" : "them") out"
                    )
                }
            }
            // Keep the worst-case stall shorter than a quick run is long.
            options.operationTimeout = min(options.operationTimeout, max(0.5, options.duration * 2))
            return options
        }

        /// Digits, and with `fraction` at most one point between them: what a person types.
        private static func isPlainDecimal(_ text: String, fraction: Bool) -> Bool {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 1 || (fraction && parts.count == 2) else { return false }
            return parts.allSatisfy { part in
                !part.isEmpty && part.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            }
        }

        private static func seconds(_ text: String, _ name: String, minimum: Double) throws(Mistake) -> Double
        {
            // Plain decimals only: `Double` also reads "0x10" (16), "1e3" and "+5".
            guard isPlainDecimal(text, fraction: true), let value = Double(text), value >= minimum,
                value <= 3600
            else {
                throw Mistake(
                    message:
                        "\(name) needs a number of seconds (\(minimum) to 3600), got \(EchoServerCommand.quoted(text))"
                )
            }
            return value
        }

        private static func count(_ text: String, _ name: String, _ range: ClosedRange<Int>) throws(Mistake)
            -> Int
        {
            guard isPlainDecimal(text, fraction: false), let value = Int(text), range.contains(value) else {
                throw Mistake(
                    message:
                        "\(name) needs a whole number from \(range.lowerBound) to \(range.upperBound), got \(EchoServerCommand.quoted(text))"
                )
            }
            return value
        }

        private static func scenarios(_ text: String) throws(Mistake) -> [ScenarioKind] {
            if text == "all" { return ScenarioKind.allCases }
            var chosen: [ScenarioKind] = []
            for part in text.split(separator: ",") {
                guard let scenario = ScenarioKind(rawValue: String(part)) else {
                    throw Mistake(
                        message:
                            "--scenario must be conn, rr, idle, stream or all, got \(EchoServerCommand.quoted(part))"
                    )
                }
                if !chosen.contains(scenario) { chosen.append(scenario) }
            }
            guard !chosen.isEmpty else { throw Mistake(message: "--scenario needs a value") }
            // Run in the canonical order whatever order they were named in.
            return ScenarioKind.allCases.filter(chosen.contains)
        }
    }
#endif
