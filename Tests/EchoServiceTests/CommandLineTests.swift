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
    }

    @Test(arguments: [
        (["--prot", "1"], "unknown option '--prot'"),
        (["--port", "65536"], "--port must be 0 to 65535, not '65536'"),
        (["--port", "-1"], "--port must be 0 to 65535, not '-1'"),
        (["--port"], "--port needs a value"),
        (["--backend", "iocp"], "unknown backend 'iocp'"),
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
}
