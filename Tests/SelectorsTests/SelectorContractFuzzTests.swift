import CSelectors
import Selectors
import SelectorsConformance
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A bounded run of the model-based contract fuzzer (see `SelectorFuzzer`): 10,000 random
/// steps per backend against the reference model, with a fixed seed so a failure replays.
/// Set `SELECTOR_FUZZ_SEED` to try another; longer runs: `swift run -c release selector-fuzz`.
@Suite struct SelectorContractFuzzTests {
    // Runs in a child process (an exit test): the harness owns fd numbers 200 to 215 and
    // closes and reuses them freely, which in the shared test process could hit a
    // descriptor another test holds. An exit test that fails returns no output, so the child
    // writes its report to a file the parent reads.
    @Test(arguments: Backend.available)
    func randomSequencesOfOperationsKeepTheSelectorContract(backend: Backend) async {
        let name = backend.rawValue
        let seed = fuzzSeed
        let reportPath = "/tmp/swift-selectors-fuzz-\(getpid())-\(name).txt"
        defer { _ = unlink(reportPath) }
        await #expect(processExitsWith: .success) {
            [name = name as String, seed = seed as UInt64, reportPath = reportPath as String] in
            var configuration = FuzzConfiguration(backend: Backend(rawValue: name)!, seed: seed)
            configuration.operationLimit = 10_000
            let report = SelectorFuzzer.run(configuration)
            if let failure = report.failure {
                writeTextFile(reportPath, failure.description)
                exit(1)
            }
        }
        if let report = readTextFile(reportPath) {
            Issue.record("\(report)")
        }
    }

    private var fuzzSeed: UInt64 {
        getenv("SELECTOR_FUZZ_SEED").flatMap { UInt64(String(cString: $0)) } ?? 20_261_202
    }
}

private func writeTextFile(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return }
    defer { _ = close(fd) }
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
}

private func readTextFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { _ = close(fd) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4_096)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        contents += chunk[..<count]
    }
    return String(decoding: contents, as: UTF8.self)
}
