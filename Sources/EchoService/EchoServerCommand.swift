import CSelectors
import Selectors

/// The `echo-server` command line: argument parsing and the program itself, kept in the
/// library so tests can check the parsing without starting a process.
public enum EchoServerCommand {
    /// What the command line asked for.
    public struct Options: Sendable {
        /// The server to start.
        public var configuration = EchoServer.Configuration()
        /// `--quiet`: no notices and no summary; the listening line and errors still appear.
        public var quiet = false
        /// `--help`: print the usage and exit.
        public var help = false

        /// The defaults: 127.0.0.1:7000, the platform's best backend, one thread.
        public init() {}
    }

    /// A bad command line; `description` is the one-line message.
    public struct UsageError: Error, Sendable, CustomStringConvertible {
        /// What is wrong, for example `unknown option '--prot'`.
        public let description: String
    }

    /// The text `--help` prints.
    public static var usage: String {
        let backends = Backend.available.map(\.rawValue).joined(separator: "|")
        return """
            usage: echo-server [options]

            A TCP echo server: every byte a client sends is written back to it.

            options:
              --host ADDRESS          numeric IPv4 or IPv6 address to listen on (default 127.0.0.1;
                                      for example ::1 or 0.0.0.0)
              --port PORT             TCP port, 0 to let the system pick a free one (default 7000)
              --backend NAME          \(backends) (default \(Backend.default))
              --trigger MODE          level|edge: how connections are watched (default level)
              --threads N             N event loops, each on its own thread with its own listener
                                      sharing the port through SO_REUSEPORT (default 1)
              --max-connections N     close connections beyond N open ones at once (default: no limit)
              --idle-timeout SECONDS  close connections idle that long (default 0: never)
              --quiet                 print only the listening line and errors
              --help                  print this help

            On SIGINT or SIGTERM the server stops accepting, writes out pending data (for up to
            2 seconds), prints a summary and exits with status 0; a second signal stops at once.
            Exit status 1: the server could not start (for example, address in use);
            2: bad arguments.

            """
    }

    /// Parses the arguments (without the program name). `--name value` and `--name=value`
    /// are both accepted; a repeated option keeps its last value.
    /// - Throws: `UsageError` for an unknown option, a missing or bad value, or an argument
    ///   that is not an option.
    public static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            var name = argument
            var inlineValue: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            func value() throws(UsageError) -> String {
                if let inlineValue { return inlineValue }
                guard index < arguments.count else { throw UsageError(description: "\(name) needs a value") }
                index += 1
                return arguments[index - 1]
            }
            func flag() throws(UsageError) {
                if inlineValue != nil { throw UsageError(description: "\(name) takes no value") }
            }
            switch name {
            case "--host":
                let host = try value()
                guard (try? SocketAddress(host: host, port: 0)) != nil else {
                    throw UsageError(
                        description:
                            "--host must be a numeric IPv4 or IPv6 address or localhost, not '\(host)'")
                }
                options.configuration.host = host
            case "--port":
                let text = try value()
                guard let port = Int(text), (0...65535).contains(port) else {
                    throw UsageError(description: "--port must be 0 to 65535, not '\(text)'")
                }
                options.configuration.port = UInt16(port)
            case "--backend":
                let text = try value()
                guard let backend = Backend(name: text), backend.isAvailable else {
                    let names = Backend.available.map(\.rawValue).joined(separator: ", ")
                    throw UsageError(description: "unknown backend '\(text)' (available: \(names))")
                }
                options.configuration.backend = backend
            case "--trigger":
                let text = try value()
                guard let trigger = Trigger(name: text), trigger != .oneShot else {
                    throw UsageError(description: "--trigger must be level or edge, not '\(text)'")
                }
                options.configuration.trigger = trigger
            case "--threads":
                options.configuration.threads = try integer(name, try value(), in: 1...1024)
            case "--max-connections":
                options.configuration.maxConnections = try integer(name, try value(), in: 1...Int(Int32.max))
            case "--idle-timeout":
                let text = try value()
                // Up to about 31 years; finite and not negative.
                guard let seconds = Double(text), seconds >= 0, seconds <= 1e9 else {
                    throw UsageError(
                        description: "--idle-timeout must be a number of seconds, 0 or more, not '\(text)'")
                }
                let nanoseconds = Int64((seconds * 1e9).rounded(.up))
                options.configuration.idleTimeout = nanoseconds == 0 ? nil : .nanoseconds(nanoseconds)
            case "--quiet":
                try flag()
                options.quiet = true
            case "--help", "-h":
                try flag()
                options.help = true
            default:
                if argument.hasPrefix("-") { throw UsageError(description: "unknown option '\(name)'") }
                throw UsageError(description: "unexpected argument '\(argument)'")
            }
        }
        return options
    }

    private static func integer(_ name: String, _ text: String, in range: ClosedRange<Int>) throws(UsageError)
        -> Int
    {
        guard let number = Int(text), range.contains(number) else {
            throw UsageError(
                description: "\(name) must be \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return number
    }

    /// Runs `echo-server` with `arguments` (without the program name) and exits: 0 after a
    /// shutdown signal or `--help`, 1 if the server cannot start, 2 for bad arguments.
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
        exit(serve(options))
    }

    /// Serves until the server ends and returns the exit status. A function of its own so the
    /// server, its loops and their timers are released before `exit`, which runs no
    /// deinitializers (and LeakSanitizer would report what was still held).
    private static func serve(_ options: Options) -> Int32 {
        var configuration = options.configuration
        configuration.shutdownSignals = [SIGINT, SIGTERM]
        if !options.quiet {
            configuration.log = { Console.write(2, "echo-server: \($0)\n") }
        }
        let threads = configuration.threads == 1 ? "1 thread" : "\(configuration.threads) threads"
        let server: RunningEchoServer
        do {
            server = try EchoServer.run(configuration) { server in
                Console.write(
                    1, "echo-server listening on \(server.address) (\(server.backend), \(threads))\n")
            }
        } catch {
            Console.write(2, "echo-server: \(error)\n")
            if case .invalidConfiguration = error { return 2 }
            return 1
        }
        if !options.quiet {
            Console.write(1, "echo-server: stopped; \(server.statistics)\n")
        }
        if let failure = server.loopFailure {
            Console.write(2, "echo-server: \(failure)\n")
            return 1
        }
        return 0
    }
}

/// Unbuffered output with `write(2)`, so lines appear at once even when stdout is a pipe
/// (no C stdio, no Foundation).
enum Console {
    static func write(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = CSelectors.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && cselectors_errno() == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
