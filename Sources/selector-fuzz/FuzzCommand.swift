internal import CSelectors
import EchoService
import Selectors
import SelectorsConformance

/// `selector-fuzz`: long runs of the model-based selector fuzzer.
///
///     selector-fuzz --backend epoll --minutes 30 [--seed N] [--case K] [--operations N]
///
/// Prints the seed first, a progress line every minute, and a summary at the end. Exit
/// status 0 when no violation was found, 1 with the seed and the shortest failing sequence
/// when one was, 2 for bad arguments.
struct FuzzCommand {
    var configuration: FuzzConfiguration

    static let usage =
        "usage: selector-fuzz --backend \(Backend.available.map(\.rawValue).joined(separator: "|")) "
        + "(--minutes M | --operations N) [--seed N] [--case K]"

    /// The most `--minutes` takes: about 19 years, far past any run, and far from overflowing
    /// the time limit in seconds.
    static let maximumMinutes = 10_000_000

    /// Parses the arguments (without the program name); the error is the one line to print
    /// (for `--help`, the usage, which is not an error: see `UsageError.isHelp`).
    static func parse(_ arguments: [String]) -> Result<FuzzCommand, UsageError> {
        var backend: Backend?
        var seed: UInt64?
        var minutes: Int?
        var operations: Int?
        var onlyCase: Int?
        var remaining = arguments[...]
        while let flag = remaining.popFirst() {
            if flag == "--help" || flag == "-h" { return .failure(UsageError(usage, isHelp: true)) }
            guard ["--backend", "--seed", "--minutes", "--operations", "--case"].contains(flag) else {
                return .failure(UsageError("unknown option \(quoted(flag)); \(usage)"))
            }
            guard let value = remaining.popFirst() else {
                return .failure(UsageError("\(flag) needs a value"))
            }
            switch flag {
            case "--backend":
                guard let named = Backend(rawValue: value), named.isAvailable else {
                    return .failure(
                        UsageError("--backend: \(quoted(value)) is not one of \(Backend.available)"))
                }
                backend = named
            case "--seed":
                guard let number = decimal(value, as: UInt64.self) else {
                    return .failure(UsageError("--seed: \(quoted(value)) is not a decimal number"))
                }
                seed = number
            case "--minutes":
                guard let number = decimal(value, as: Int.self), number > 0, number <= maximumMinutes else {
                    return .failure(
                        UsageError(
                            "--minutes: \(quoted(value)) is not a whole number from 1 to \(maximumMinutes)"))
                }
                minutes = number
            case "--operations":
                guard let number = decimal(value, as: Int.self), number > 0 else {
                    return .failure(
                        UsageError("--operations: \(quoted(value)) is not a positive whole number"))
                }
                operations = number
            case "--case":
                guard let number = decimal(value, as: Int.self) else {
                    return .failure(UsageError("--case: \(quoted(value)) is not a whole number"))
                }
                onlyCase = number
            default:
                continue
            }
        }
        guard let backend else { return .failure(UsageError("--backend is required; \(usage)")) }
        guard minutes != nil || operations != nil || onlyCase != nil else {
            return .failure(UsageError("give --minutes or --operations; \(usage)"))
        }
        var configuration = FuzzConfiguration(backend: backend, seed: seed ?? clockSeed())
        configuration.timeLimit = minutes.map { .seconds(60 * $0) }
        configuration.operationLimit = operations
        configuration.onlyCase = onlyCase
        return .success(FuzzCommand(configuration: configuration))
    }

    /// Runs and returns the exit status.
    func run() -> Int32 {
        // The harness puts its descriptors at fixed numbers: under a lower limit, failing to
        // place one would read as a broken contract.
        let needed = Int64(configuration.firstDescriptor) + Int64(configuration.slotCount)
        let limit = cselectors_open_files_limit()
        if limit >= 0 && limit < needed {
            writeLine(
                "selector-fuzz: needs descriptors up to \(needed - 1) (ulimit -n \(needed) or more); "
                    + "this process may open \(limit)", to: 2)
            return 1
        }
        let seed = configuration.seed
        writeLine("selector-fuzz: backend \(configuration.backend), seed \(seed)")
        var lastReport = now()
        let start = lastReport
        let report = SelectorFuzzer.run(configuration) { statistics in
            let current = now()
            guard current - lastReport >= 60 else { return }
            lastReport = current
            writeLine("  \(current - start) s: \(summary(statistics))")
        }
        writeLine(
            "\(configuration.backend): \(summary(report.statistics)) in \(now() - start) s, seed \(seed)")
        guard let failure = report.failure else {
            writeLine("no violation found")
            return 0
        }
        writeLine(failure.description)
        return 1
    }

    private func summary(_ statistics: FuzzStatistics) -> String {
        "\(statistics.operations) steps (\(statistics.skipped) skipped), \(statistics.cases) cases, "
            + "\(statistics.selects) selects, \(statistics.quietWaits) quiet timed waits"
    }

    /// Only plain decimal digits: no sign, no prefix, no spaces.
    private static func decimal<Number: FixedWidthInteger>(_ text: String, as type: Number.Type) -> Number? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else {
            return nil
        }
        return Number(text)
    }

    private static func clockSeed() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_007 &+ UInt64(spec.tv_nsec)
    }

    private func now() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int(spec.tv_sec)
    }
}

/// A bad command line: one line to print before exiting with status 2.
struct UsageError: Error {
    let message: String
    /// `--help`: the usage goes to standard output, and the exit status is 0.
    var isHelp = false
    init(_ message: String, isHelp: Bool = false) {
        self.message = message
        self.isHelp = isHelp
    }
}

/// An argument as an error message shows it: quoted, escaped and cut to one short line.
private func quoted(_ text: String) -> String { EchoServerCommand.quoted(text) }

/// Writes `line` and a newline straight to `fd` (unbuffered, so a log file redirected from
/// stdout shows progress as it happens).
func writeLine(_ line: String, to fd: Int32 = 1) {
    var bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes {
            CSelectors.write(fd, $0.baseAddress! + offset, $0.count - offset)
        }
        if written < 0 && cselectors_errno() == EINTR { continue }
        guard written > 0 else { return }
        offset += written
    }
}
