import Glibc
import Testing

/// `selector-fuzz`'s command line: bad arguments get one line and status 2, whatever they hold;
/// `--help` is not an error; too low a descriptor limit is said as such, not reported as a
/// broken contract. In the serialized process suite, since each test spawns a child.
extension EchoServerProcessTests {
    @Test func selectorFuzzAnswersBadArgumentsInOneLine() throws {
        for arguments in [
            ["--backend", "epoll", "--minutes", "153722867280912931"],  // overflowed: a trap
            ["--backend", "epoll", "--minutes", "0"],
            ["--backend", "a\nb", "--minutes", "1"],
            ["--bogus\nline"],
            ["--backend", "epoll", "--seed", "1\n2", "--minutes", "1"],
            ["--backend", "epoll", "--operations", String(repeating: "9", count: 100_000)],
            ["--backend", "epoll"],
            ["--minutes"],
        ] {
            let (status, output, errors) = try runSelectorFuzz(arguments)
            #expect(status == 2, "\(arguments.map { $0.prefix(40) })")
            #expect(output.isEmpty)
            #expect(
                errors.hasPrefix("selector-fuzz: ") && errors.filter { $0 == "\n" }.count == 1,
                "\(errors.prefix(200))")
            #expect(errors.count < 400, "\(errors.prefix(200))")
        }
        let (status, output, errors) = try runSelectorFuzz(["--help"])
        #expect(status == 0)
        #expect(output.hasPrefix("usage: selector-fuzz"))
        #expect(errors.isEmpty)
    }

    /// Its descriptors sit at fixed numbers (200 and up): under `ulimit -n 40` it used to
    /// report "selector contract violated" (status 1, with a sequence to replay).
    @Test func selectorFuzzUnderALowDescriptorLimitSaysSo() throws {
        let executable = try builtExecutable("selector-fuzz")
        let child = try ChildProcess(
            shell:
                "exec 0</dev/null; ulimit -n 40; exec '\(executable)' --backend epoll --operations 300 --seed 7"
        )
        let status = child.waitForExit(timeout: 30)
        if status == nil { kill(child.pid, SIGKILL) }
        #expect(status.flatMap(ChildProcess.exitCode) == 1)
        #expect(!child.stdoutText.contains("violated") && !child.stderrText.contains("violated"))
        #expect(child.stderrText.contains("ulimit -n 216"), "\(child.stderrText)")
    }
}

/// Runs the built `selector-fuzz` with `arguments` (for at most a minute): its exit status,
/// standard output and standard error.
private func runSelectorFuzz(_ arguments: [String]) throws -> (status: Int32?, output: String, errors: String)
{
    let executable = try builtExecutable("selector-fuzz")
    let child = try ChildProcess(path: executable, arguments: [executable] + arguments)
    let status = child.waitForExit(timeout: 60)
    return (status.flatMap(ChildProcess.exitCode), child.stdoutText, child.stderrText)
}
