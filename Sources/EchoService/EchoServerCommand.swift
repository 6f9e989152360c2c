internal import CSelectors
import Selectors

/// The `echo-server` command line: argument parsing and the program itself, kept in the
/// library so tests can check the parsing without starting a process.
public enum EchoServerCommand {
    /// What the command line asked for.
    public struct Options: Sendable {
        /// The server to start.
        public var configuration = EchoServer.Configuration()
        /// `--quiet`: no notices. The listening line, statistics that were asked for
        /// (`--stats-interval`, `SIGUSR1`), the summary and errors still appear.
        public var quiet = false
        /// `--help`: print the usage and exit.
        public var help = false
        /// `--version`: print the version and exit.
        public var version = false

        /// The defaults: 127.0.0.1:7000, the platform's best backend, one thread.
        public init() {}
    }

    /// A bad command line; `description` is the one-line message.
    public struct UsageError: Error, Sendable, CustomStringConvertible {
        /// What is wrong, for example `unknown option '--prot'`.
        public let description: String
    }

    /// Runs `echo-server` with `arguments` (without the program name) and exits: 0 after a
    /// shutdown signal, `--help` or `--version`, 1 if the server cannot start, 2 for bad
    /// arguments, 131 after `SIGQUIT`.
    public static func main(_ arguments: [String]) -> Never {
        // Sends use MSG_NOSIGNAL already; this covers anything else that might write to a
        // closed socket or pipe (a closed stdout, for one).
        cselectors_ignore_sigpipe()
        let options: Options
        do {
            options = try parse(arguments)
        } catch {
            Console.write(2, "echo-server: \(error) (see --help)\n")
            exit(2)
        }
        if options.help {
            Console.write(1, usage)
            exit(0)
        }
        if options.version {
            Console.write(1, versionLine)
            exit(0)
        }
        exit(serve(options))
    }

    /// Serves until the server ends and returns the exit status. A function of its own so the
    /// server, its loops and their timers are released before `exit`, which runs no
    /// deinitializers (and LeakSanitizer would report what was still held).
    private static func serve(_ options: Options) -> Int32 {
        let output = CommandOutput()
        var configuration = options.configuration
        configuration.shutdownSignals = [SIGINT, SIGTERM]
        // `nohup` starts a program with SIGHUP ignored; it stays so.
        if cselectors_signal_is_ignored(SIGHUP) == 0 { configuration.shutdownSignals.append(SIGHUP) }
        configuration.signalHandlers = signalHandlers(output, quiet: options.quiet)
        if configuration.statisticsInterval != nil {
            // Asked for, so shown even with --quiet.
            configuration.statisticsReport = { output.notice("statistics: \($0.live)") }
        }
        if !options.quiet {
            configuration.log = { output.notice($0) }
        }
        let threads = configuration.threads == 1 ? "1 thread" : "\(configuration.threads) threads"
        let server: RunningEchoServer
        do {
            server = try EchoServer.run(configuration) { server in
                output.retryOnFirstLoop(of: server)
                output.standardOutput.write(
                    "echo-server listening on \(server.address) (\(server.backend), \(threads))\n")
                // Start-up is over: the code it ran need not stay resident (idle 4.7 MiB
                // before, 2.5 MiB after; BENCHMARKS.md, "Memory").
                ResidentMemory.releaseStartUpPages()
            }
        } catch {
            output.standardError.write("echo-server: \(error)\n")
            output.finish()
            if case .invalidConfiguration = error { return 2 }
            return 1
        }
        var summary = "echo-server: stopped; \(server.statistics)"
        let dropped = output.standardError.droppedLines
        if dropped > 0 { summary += "; \(dropped) log line\(dropped == 1 ? "" : "s") dropped" }
        output.standardOutput.write(summary + "\n")
        if let failure = server.loopFailure {
            output.standardError.write("echo-server: \(failure)\n")
            output.finish()
            return 1
        }
        output.finish()
        return 0
    }

    /// What the signals other than the shutdown ones do (see `usage`).
    private static func signalHandlers(_ output: CommandOutput, quiet: Bool)
        -> [Int32: @Sendable (Int32, RunningEchoServer) -> Void]
    {
        let ignored: @Sendable (Int32, RunningEchoServer) -> Void = { signal, _ in
            if !quiet { output.notice("received \(signalName(signal)); ignored") }
        }
        return [
            SIGUSR1: { _, server in output.notice("statistics: \(server.statistics.live)") },
            SIGUSR2: ignored,
            SIGALRM: ignored,
            SIGQUIT: { _, server in
                output.notice("received SIGQUIT; exiting at once without draining; \(server.statistics)")
                output.finish(waitingAtMost: .milliseconds(250))
                // No summary, no drain, no deinitializers: at once, as the signal asks.
                _exit(131)
            },
        ]
    }
}

/// The command's standard output and error, neither of which may ever block a loop.
final class CommandOutput: Sendable {
    let standardOutput = LogWriter(fd: 1)
    let standardError = LogWriter(fd: 2) { count in
        CommandOutput.stamped(
            "\(count) log line\(count == 1 ? "" : "s") dropped: standard error was not writable")
    }

    /// A notice on standard error: `<UTC time> echo-server: <message>`.
    func notice(_ message: String) {
        standardError.write(CommandOutput.stamped(message))
    }

    static func stamped(_ message: String) -> String {
        "\(UTCTimestamp.now()) echo-server: \(message)\n"
    }

    /// Output left waiting is retried every 100 ms on the server's first loop (a timer only
    /// while something waits, so a loop with nothing to log reads no clock for it).
    func retryOnFirstLoop(of server: RunningEchoServer) {
        for writer in [standardOutput, standardError] {
            writer.setRetry { [weak server] in
                server?.runOnFirstLoop(after: .milliseconds(100)) { writer.flush() }
            }
        }
    }

    /// Ends the retries (and the reference cycle each writer has with its retry closure).
    func stopRetrying() {
        standardOutput.setRetry(nil)
        standardError.setRetry(nil)
    }

    /// Writes out what is waiting, giving each stream up to `timeout` (then dropping it, so
    /// a stream nobody reads cannot keep the process from exiting).
    func finish(waitingAtMost timeout: Duration = .seconds(1)) {
        stopRetrying()
        standardError.flush(waitingAtMost: timeout)
        standardOutput.flush(waitingAtMost: timeout)
    }
}

/// Output before the server runs (usage, errors in the arguments): written through a
/// `LogWriter` and waited for at most a second, so even a stream nobody reads cannot keep the
/// program from exiting (no C stdio, no Foundation).
enum Console {
    static func write(_ fd: Int32, _ text: String) {
        let writer = LogWriter(fd: fd)
        writer.write(text)
        writer.flush(waitingAtMost: .seconds(1))
    }
}
