import Selectors

extension EchoServerCommand {
    /// Parses the arguments (without the program name). `--name value` and `--name=value`
    /// are both accepted; a repeated option keeps its last value; `--` ends the options
    /// (the server takes no other arguments, so anything after it is refused too), except as
    /// the very first argument: that is the separator `swift run echo-server -- --port 0`
    /// passes through, and the options follow it.
    ///
    /// Only the documented forms are accepted: numbers are decimal digits (seconds may have
    /// a fractional part, `2.5`), with no sign, no hexadecimal, no exponent, no spaces, and
    /// backend names are written as listed (`epoll`, not `EPOLL`).
    /// - Throws: `UsageError` for an unknown option, a missing or bad value, or an argument
    ///   that is not an option.
    public static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var lowWaterGiven = false
        var totalLowWaterGiven = false
        // SwiftPM hands its `--` on to the program.
        var index = arguments.first == "--" ? 1 : 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" && !optionsEnded {
                optionsEnded = true
                continue
            }
            guard !optionsEnded, argument.hasPrefix("-"), argument != "-" else {
                throw UsageError(description: "unexpected argument \(quoted(argument))")
            }
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
                            "--host must be a numeric IPv4 or IPv6 address or localhost, not \(quoted(host))")
                }
                options.configuration.host = host
            case "--port":
                options.configuration.port = UInt16(try integer(name, try value(), in: 0...65535))
            case "--backend":
                let text = try value()
                // Exactly as listed: `Backend(name:)` would also take `EPOLL`.
                guard let backend = Backend(rawValue: text), backend.isAvailable else {
                    let names = Backend.available.map(\.rawValue).joined(separator: ", ")
                    // One this system lacks (io_uring switched off, say) is named with the reason.
                    if let known = Backend(rawValue: text), known != .scripted {
                        let reason = SelectorError(.create, fd: nil, .backendUnavailable(known)).reason
                        throw UsageError(description: "\(reason) (available: \(names))")
                    }
                    throw UsageError(description: "unknown backend \(quoted(text)) (available: \(names))")
                }
                options.configuration.backend = backend
            case "--api":
                let text = try value()
                guard let api = EchoServer.API(rawValue: text) else {
                    throw UsageError(description: "--api must be callbacks or async, not \(quoted(text))")
                }
                options.configuration.api = api
            case "--trigger":
                let text = try value()
                guard let trigger = Trigger(rawValue: text), trigger != .oneShot else {
                    throw UsageError(description: "--trigger must be level or edge, not \(quoted(text))")
                }
                options.configuration.trigger = trigger
            case "--threads":
                options.configuration.threads = try integer(name, try value(), in: 1...1024)
            case "--max-connections":
                options.configuration.maxConnections = try integer(name, try value(), in: 1...Int(Int32.max))
            case "--idle-timeout":
                options.configuration.idleTimeout = try seconds(name, try value(), zeroMeansOff: true)
            case "--stats-interval":
                let interval = try seconds(name, try value(), zeroMeansOff: true)
                if let interval, interval < .milliseconds(100) {
                    throw UsageError(description: "--stats-interval must be 0 (off) or at least 0.1 seconds")
                }
                options.configuration.statisticsInterval = interval
            case "--drain-timeout":
                options.configuration.drainTimeout =
                    try seconds(name, try value(), zeroMeansOff: false) ?? .zero
            case "--high-water":
                options.configuration.highWaterMark = try integer(name, try value(), in: 1...(1 << 30))
            case "--low-water":
                options.configuration.lowWaterMark = try integer(name, try value(), in: 0...(1 << 30))
                lowWaterGiven = true
            case "--backlog":
                options.configuration.backlog = Int32(try integer(name, try value(), in: 1...Int(Int32.max)))
            case "--keepalive":
                let seconds = try integer(name, try value(), in: 0...32767)
                options.configuration.keepAlive = seconds == 0 ? nil : .seconds(seconds)
            case "--total-high-water":
                options.configuration.totalHighWaterMark = try integer(name, try value(), in: 1...(1 << 50))
            case "--total-low-water":
                options.configuration.totalLowWaterMark = try integer(name, try value(), in: 0...(1 << 50))
                totalLowWaterGiven = true
            case "--quiet":
                try flag()
                options.quiet = true
            case "--help", "-h":
                try flag()
                options.help = true
            case "--version":
                try flag()
                options.version = true
            default:
                throw UsageError(description: "unknown option \(quoted(name))")
            }
        }
        let high = options.configuration.highWaterMark
        if !lowWaterGiven && options.configuration.lowWaterMark >= high {
            // Only --high-water was given, below the default low mark: keep their ratio.
            options.configuration.lowWaterMark = high / 4
        }
        guard options.configuration.lowWaterMark < high else {
            throw UsageError(
                description:
                    "--low-water (\(options.configuration.lowWaterMark)) must be below --high-water (\(high))"
            )
        }
        let totalHigh = options.configuration.totalHighWaterMark
        if !totalLowWaterGiven && options.configuration.totalLowWaterMark >= totalHigh {
            // Only --total-high-water was given, below the default low mark: keep their ratio.
            options.configuration.totalLowWaterMark = totalHigh / 4 * 3
        }
        guard options.configuration.totalLowWaterMark < totalHigh else {
            throw UsageError(
                description:
                    "--total-low-water (\(options.configuration.totalLowWaterMark)) must be below --total-high-water (\(totalHigh))"
            )
        }
        return options
    }

    /// A whole number written in decimal digits only, within `range`.
    private static func integer(_ name: String, _ text: String, in range: ClosedRange<Int>) throws(UsageError)
        -> Int
    {
        guard isDecimalDigits(text), let number = Int(text), range.contains(number) else {
            throw UsageError(
                description: "\(name) must be \(range.lowerBound) to \(range.upperBound), not \(quoted(text))"
            )
        }
        return number
    }

    /// Seconds written as digits with an optional fraction (`30`, `2.5`, `0.001`), up to a
    /// billion (about 31 years); converted exactly, rounding a remainder below a nanosecond up
    /// so the duration is never shorter than written. Zero is `nil` when `zeroMeansOff`.
    private static func seconds(_ name: String, _ text: String, zeroMeansOff: Bool) throws(UsageError)
        -> Duration?
    {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, isDecimalDigits(whole), parts.count == 1 || isDecimalDigits(parts[1]),
            let wholeSeconds = Int64(whole), wholeSeconds <= 1_000_000_000
        else {
            throw UsageError(
                description: "\(name) must be a number of seconds such as 30 or 2.5, not \(quoted(text))")
        }
        var nanoseconds: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1].utf8.map { Int64($0 - UInt8(ascii: "0")) }
            for position in 0..<9 {
                nanoseconds = nanoseconds * 10 + (position < digits.count ? digits[position] : 0)
            }
            if digits.dropFirst(9).contains(where: { $0 != 0 }) { nanoseconds += 1 }
        }
        let duration = Duration.seconds(wholeSeconds) + .nanoseconds(nanoseconds)
        return zeroMeansOff && duration == .zero ? nil : duration
    }

    /// `text` in single quotes for an error message, kept to one short line whatever it holds:
    /// control characters (a newline, say) are escaped (`\n`, `\u{1B}`) and anything past
    /// 64 characters is cut, so the message stays one line and well within what the error
    /// output holds (a 100 KB argument quoted whole was dropped there, message and all).
    public static func quoted(_ text: some StringProtocol) -> String {
        let limit = 64
        var shown = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit {
                shown += "..."
                break
            }
            let isControl = scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
            shown +=
                isControl || scalar == "'" || scalar == "\\" ? scalar.escaped(asASCII: true) : String(scalar)
            count += 1
        }
        return "'\(shown)'"
    }

    private static func isDecimalDigits(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}
