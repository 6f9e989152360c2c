import Selectors

// Model-based fuzzing of the selector contract.
//
// Random sequences of register / modify / unregister / close / dup / dup2 (often onto a
// registered number) / write / fill / read / drain / select run against a real selector over
// real socket pairs and pipes, and against `ContractModel`, a small reference model of what
// each `select` must and may report (see its documentation for the exact rules). Every step
// is checked: the errors of register, modify and unregister, the keys they return, the
// registration count, and every select result. A failing case is replayed with steps
// removed until it is as short as it can be (`Shrinker`), and reported with its seed.
//
// Each case starts from a fresh selector and at most `slotCount` harness descriptors at
// fixed numbers, so a case depends on nothing but its seed. Most selects do not block;
// some wait 1 ms (and must wait that long when nothing may be reported), a few wait 2 s
// while something must be reported (and so return at once).
//
// Long run, one command (exits 1 with the seed and the shrunk sequence on a failure):
//
//     swift run -c release selector-fuzz --backend epoll --minutes 30 [--seed N]
//
// The bounded run in `swift test` is `SelectorFuzzTests` (10,000 steps per backend).

/// What to fuzz, and for how long.
public struct FuzzConfiguration: Sendable {
    /// The backend under test.
    public var backend: Backend
    /// The run's seed; case `i` is seeded from it and `i`.
    public var seed: UInt64
    /// Stop after about this many steps (whole cases)...
    public var operationLimit: Int?
    /// ...or once this much time has passed, whichever comes first.
    public var timeLimit: Duration?
    /// Steps per case.
    public var operationsPerCase = 200
    /// Run only this case of the seed (to replay a reported failure).
    public var onlyCase: Int?
    /// The first harness fd number; the harness uses `slotCount` numbers from there. It must
    /// be above every descriptor the process opens otherwise, and, for the select backend,
    /// `firstDescriptor + slotCount` must stay below `FD_SETSIZE`.
    public var firstDescriptor: Int32 = 200
    /// How many harness descriptors a case can hold at once.
    public var slotCount = 16

    /// A configuration with no limit yet: set `operationLimit` or `timeLimit`.
    public init(backend: Backend, seed: UInt64) {
        self.backend = backend
        self.seed = seed
    }
}

/// Counters of a run.
public struct FuzzStatistics: Sendable, Equatable {
    /// Steps executed, skipped ones included.
    public var operations = 0
    /// Steps whose precondition did not hold (closing a closed slot, say).
    public var skipped = 0
    /// `select` calls.
    public var selects = 0
    /// Timed selects with nothing that may be reported, whose wait was checked.
    public var quietWaits = 0
    /// Cases run.
    public var cases = 0

    mutating func add(_ other: FuzzStatistics) {
        operations += other.operations
        skipped += other.skipped
        selects += other.selects
        quietWaits += other.quietWaits
    }
}

/// A contract violation, with what it takes to reproduce it.
public struct FuzzFailure: Sendable, CustomStringConvertible {
    /// The backend that broke the contract.
    public let backend: Backend
    /// The run's seed.
    public let seed: UInt64
    /// The failing case of that seed (`--case` replays it).
    public let caseIndex: Int
    /// The check that failed, and how.
    public let check: String
    /// What happened, with fd numbers and events.
    public let detail: String
    /// The case's length before shrinking.
    public let originalLength: Int
    /// The shortest failing sequence found, one step a line.
    public let steps: [String]

    /// The report: the violation, how to replay it, and the numbered steps.
    public var description: String {
        var lines = [
            "selector contract violated on \(backend): \(check): \(detail)",
            "seed \(seed), case \(caseIndex) (replay: selector-fuzz --backend \(backend) --seed \(seed) --case \(caseIndex))",
            "shortest failing sequence (\(steps.count) of \(originalLength) steps):",
        ]
        for (index, step) in steps.enumerated() { lines.append("  \(index + 1). \(step)") }
        return lines.joined(separator: "\n")
    }
}

/// The outcome of a run.
public struct FuzzReport: Sendable {
    /// What ran.
    public var statistics = FuzzStatistics()
    /// The first violation found; the run stops there.
    public var failure: FuzzFailure?
}

/// Runs fuzz cases until the configuration's limit or the first violation.
public enum SelectorFuzzer {
    /// Runs; `progress` is called after each case with the totals so far.
    public static func run(_ configuration: FuzzConfiguration, progress: (FuzzStatistics) -> Void = { _ in })
        -> FuzzReport
    {
        Kernel.ignoreBrokenPipeSignal()
        var report = FuzzReport()
        let start = Kernel.now()
        var index = configuration.onlyCase ?? 0
        while true {
            if let limit = configuration.operationLimit, report.statistics.operations >= limit { break }
            if let limit = configuration.timeLimit, Duration.nanoseconds(Kernel.now() - start) >= limit {
                break
            }
            let (operations, violation, statistics) = generateCase(configuration, index)
            report.statistics.add(statistics)
            report.statistics.cases += 1
            if let violation {
                report.failure = failure(configuration, index, operations, violation)
                break
            }
            progress(report.statistics)
            if configuration.onlyCase != nil { break }
            index += 1
        }
        return report
    }

    /// Generates and runs case `index`, choosing each step from the model's state.
    private static func generateCase(_ configuration: FuzzConfiguration, _ index: Int)
        -> ([FuzzOperation], Violation?, FuzzStatistics)
    {
        var generator = OperationGenerator(seed: SplitMix.caseSeed(configuration.seed, index))
        var operations: [FuzzOperation] = []
        guard let runner = makeRunner(configuration) else {
            return (
                [],
                Violation(check: "harness", detail: "could not create a \(configuration.backend) selector"),
                .init()
            )
        }
        defer { runner.tearDown() }
        for _ in 0..<configuration.operationsPerCase {
            let operation = generator.next(for: runner.state)
            operations.append(operation)
            do {
                try runner.run(operation)
            } catch {
                return (operations, error, runner.statistics)
            }
        }
        return (operations, nil, runner.statistics)
    }

    /// Replays `operations` on a fresh selector; returns the first violation.
    static func replay(_ configuration: FuzzConfiguration, _ operations: [FuzzOperation]) -> Violation? {
        guard let runner = makeRunner(configuration) else {
            return Violation(check: "harness", detail: "could not create a selector")
        }
        defer { runner.tearDown() }
        do {
            for operation in operations { try runner.run(operation) }
        } catch {
            return error
        }
        return nil
    }

    private static func makeRunner(_ configuration: FuzzConfiguration) -> CaseRunner? {
        try? CaseRunner(
            backend: configuration.backend, firstDescriptor: configuration.firstDescriptor,
            slotCount: configuration.slotCount)
    }

    private static func failure(
        _ configuration: FuzzConfiguration, _ index: Int, _ operations: [FuzzOperation],
        _ violation: Violation
    ) -> FuzzFailure {
        var shrinker = Shrinker(stillFails: { replay(configuration, $0)?.check == violation.check })
        // Replaying must reproduce the failure before it can be shrunk; if it does not (a
        // timing-dependent failure), the whole case is reported.
        let shrunk = shrinker.stillFails(operations) ? shrinker.shrink(operations) : operations
        let final = replay(configuration, shrunk) ?? violation
        return FuzzFailure(
            backend: configuration.backend, seed: configuration.seed, caseIndex: index, check: final.check,
            detail: final.detail, originalLength: operations.count,
            steps: shrunk.map { $0.describe(firstDescriptor: configuration.firstDescriptor) })
    }
}
