import EchoService
import Selectors
import Testing

/// `echo-server` argument parsing, in-process.
struct CommandLineTests {
    @Test func defaultsAreLoopbackPort7000OneThreadNoLimits() throws {
        let options = try EchoServerCommand.parse([])
        #expect(options.configuration.host == "127.0.0.1")
        #expect(options.configuration.port == 7000)
        #expect(options.configuration.backend == Backend.default)
        #expect(options.configuration.threads == 1)
        #expect(options.configuration.maxConnections == nil)
        #expect(options.configuration.idleTimeout == nil)
        #expect(!options.quiet && !options.help)
    }

    @Test func everyOptionIsRead() throws {
        let options = try EchoServerCommand.parse([
            "--host", "::1", "--port=0", "--backend", "poll", "--threads", "4",
            "--max-connections", "100", "--idle-timeout", "2.5", "--quiet",
        ])
        #expect(options.configuration.host == "::1")
        #expect(options.configuration.port == 0)
        #expect(options.configuration.backend == .poll)
        #expect(options.configuration.threads == 4)
        #expect(options.configuration.maxConnections == 100)
        #expect(options.configuration.idleTimeout == .milliseconds(2500))
        #expect(options.quiet)
        #expect(try EchoServerCommand.parse(["--idle-timeout", "0"]).configuration.idleTimeout == nil)
        #expect(try EchoServerCommand.parse(["--help"]).help)
        #expect(try EchoServerCommand.parse(["--version"]).version)
    }

    @Test func operatorOptionsAreRead() throws {
        let configuration = try EchoServerCommand.parse([
            "--stats-interval", "0.5", "--high-water=100000", "--low-water", "1000", "--drain-timeout",
            "0.25",
            "--backlog", "64", "--keepalive", "30",
        ]).configuration
        #expect(configuration.statisticsInterval == .milliseconds(500))
        #expect(configuration.highWaterMark == 100_000)
        #expect(configuration.lowWaterMark == 1000)
        #expect(configuration.drainTimeout == .milliseconds(250))
        #expect(configuration.backlog == 64)
        #expect(configuration.keepAlive == .seconds(30))
        let defaults = try EchoServerCommand.parse(["--stats-interval", "0", "--keepalive", "0"])
            .configuration
        #expect(defaults.statisticsInterval == nil && defaults.keepAlive == nil)
        #expect(defaults.drainTimeout == .seconds(2))
    }

    /// A high-water mark below the default low one brings the low one down with it.
    @Test func aHighWaterMarkAloneBelowTheDefaultLowMarkKeepsThemOrdered() throws {
        let configuration = try EchoServerCommand.parse(["--high-water", "4000"]).configuration
        #expect(configuration.highWaterMark == 4000)
        #expect(configuration.lowWaterMark == 1000)
        #expect(throws: EchoServerCommand.UsageError.self) {
            try EchoServerCommand.parse(["--high-water", "4000", "--low-water", "4000"])
        }
    }

    /// Seconds are converted exactly (0.1 is 100 ms, not 100,000,001 ns) and never rounded down.
    @Test func secondsAreDecimalAndExact() throws {
        func idle(_ text: String) throws -> Duration? {
            try EchoServerCommand.parse(["--idle-timeout", text]).configuration.idleTimeout
        }
        #expect(try idle("0.1") == .milliseconds(100))
        #expect(try idle("2.5") == .milliseconds(2500))
        #expect(try idle("007") == .seconds(7))
        #expect(try idle("1.0000000001") == .nanoseconds(1_000_000_001))
        #expect(try idle("0.000") == nil)
    }

    /// The attack run found `+80`, `EPOLL` and `0x10` accepted: only the documented forms are.
    @Test(arguments: [
        ["--port", "+80"], ["--port", " 80"], ["--port", "80 "], ["--port", "0x50"], ["--port", ""],
        ["--threads", "+2"], ["--max-connections", "-0"], ["--backlog", "1e3"], ["--keepalive", "+1"],
        ["--high-water", "0x1000"], ["--low-water", "-1"],
        ["--backend", "EPOLL"], ["--backend", "Poll"], ["--backend", " epoll"],
        ["--idle-timeout", "0x10"], ["--idle-timeout", "1e3"], ["--idle-timeout", "+5"],
        ["--idle-timeout", "5."],
        ["--idle-timeout", ".5"], ["--idle-timeout", "inf"], ["--idle-timeout", "nan"],
        ["--idle-timeout", "1,5"],
        ["--idle-timeout", "1000000001"], ["--drain-timeout", "-1"], ["--stats-interval", "0.05"],
    ])
    func onlyTheDocumentedFormsAreAccepted(arguments: [String]) {
        #expect(throws: EchoServerCommand.UsageError.self) { try EchoServerCommand.parse(arguments) }
    }

    /// `swift run -c release echo-server -- --port 0` hands the program its `--`: a first one
    /// is skipped; a later one ends the options, and the server takes nothing after them.
    @Test func aFirstDoubleDashIsSwiftRunsSeparatorALaterOneEndsTheOptions() throws {
        #expect(try EchoServerCommand.parse(["--port", "0", "--"]).configuration.port == 0)
        #expect(try EchoServerCommand.parse(["--", "--port", "1"]).configuration.port == 1)
        #expect(try EchoServerCommand.parse(["--"]).configuration.port == 7000)
        for (arguments, unexpected) in [
            (["--", "x"], "x"), (["--", "--", "--port"], "--port"), (["--port", "1", "--", "2"], "2"),
        ] {
            #expect {
                _ = try EchoServerCommand.parse(arguments)
            } throws: { error in
                "\(error)".hasPrefix("unexpected argument '\(unexpected)'")
            }
        }
    }

    @Test(arguments: [
        (["--prot", "1"], "unknown option '--prot'"),
        (["--port", "65536"], "--port must be 0 to 65535, not '65536'"),
        (["--port", "-1"], "--port must be 0 to 65535, not '-1'"),
        (["--port"], "--port needs a value"),
        (["--backend", "iocp"], "unknown backend 'iocp'"),
        (["--backend", "EPOLL"], "unknown backend 'EPOLL'"),
        (["--port", "+80"], "--port must be 0 to 65535, not '+80'"),
        (
            ["--idle-timeout", "0x10"],
            "--idle-timeout must be a number of seconds such as 30 or 2.5, not '0x10'"
        ),
        (
            ["--low-water", "70000", "--high-water", "70000"],
            "--low-water (70000) must be below --high-water (70000)"
        ),
        (["--version=1"], "--version takes no value"),
        (["-x"], "unknown option '-x'"),
        (["--threads", "0"], "--threads must be 1 to 1024, not '0'"),
        (["--max-connections", "x"], "--max-connections must be 1 to"),
        (["--idle-timeout", "-3"], "--idle-timeout must be a number of seconds"),
        (["--host", "example.com"], "--host must be a numeric IPv4 or IPv6 address"),
        (["--quiet=yes"], "--quiet takes no value"),
        (["7000"], "unexpected argument '7000'"),
    ])
    func badArgumentsAreExplained(arguments: [String], message: String) {
        #expect {
            _ = try EchoServerCommand.parse(arguments)
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func triggerOptionChoosesLevelOrEdgeAndRefusesOneShot() throws {
        #expect(try EchoServerCommand.parse([]).configuration.trigger == .level)
        #expect(try EchoServerCommand.parse(["--trigger", "edge"]).configuration.trigger == .edge)
        #expect(try EchoServerCommand.parse(["--trigger=level"]).configuration.trigger == .level)
        for bad in ["one-shot", "sideways", ""] {
            #expect {
                _ = try EchoServerCommand.parse(["--trigger", bad])
            } throws: { error in
                "\(error)" == "--trigger must be level or edge, not '\(bad)'"
            }
        }
        #expect(EchoServerCommand.usage.contains("--trigger MODE"))
    }

    /// The value a message quotes is escaped and cut short, so the message stays one line
    /// that the error output takes whole: a newline in a value used to split it in two, and a
    /// 100 KB value made it too long for the output's 64 KiB queue, which dropped it and said
    /// "output was not writable" instead.
    @Test func messagesQuoteOddValuesOnOneShortLine() {
        let long = String(repeating: "9", count: 100_000)
        for arguments in [
            ["--port", "5\n"], ["--host", "127.0.0.1\r\n"], ["--backend", "epoll\u{1B}[2J"],
            ["--port", long], ["--host", long], ["--" + long], [long], ["--idle-timeout", "1\n" + long],
            ["--trigger", "edge\u{85}"],
        ] {
            #expect(throws: EchoServerCommand.UsageError.self) { try EchoServerCommand.parse(arguments) }
            do {
                _ = try EchoServerCommand.parse(arguments)
            } catch {
                let message = error.description
                #expect(
                    !message.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) },
                    "\(message.debugDescription)")
                #expect(message.count < 300, "\(message.prefix(400))")
            }
        }
        #expect(EchoServerCommand.quoted("5\n") == "'5\\n'")
        #expect(EchoServerCommand.quoted("it's") == "'it\\'s'")
        #expect(EchoServerCommand.quoted("épée") == "'épée'")
        #expect(EchoServerCommand.quoted(long) == "'" + String(repeating: "9", count: 64) + "...'")
    }
}
