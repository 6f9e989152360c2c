import CSelectors
import Glibc
import Selectors
import Testing

/// Where io_uring cannot be used (switched off by sysctl, blocked by seccomp, an old kernel),
/// the uring backend is not listed and asking for it fails in one line that says why. The
/// same path is taken, on any machine, with `SELECTORS_USE_IO_URING=0` in the environment.
@Suite struct UringSwitchedOffTests {
    @Test func echoServerAsksForUringWhereItIsSwitchedOffAndSaysWhyInOneLine() throws {
        let executable = try echoServerExecutable()
        let child = try ChildProcess(
            shell: "SELECTORS_USE_IO_URING=0 exec '\(executable)' --port 0 --backend uring")
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 2)
        let lines = child.stderrText.split(separator: "\n")
        #expect(lines.count == 1, "\(child.stderrText)")
        #expect(
            lines.first?.hasPrefix(
                "echo-server: the uring backend is not available: switched off by "
                    + "SELECTORS_USE_IO_URING=0 (available: epoll, poll, select)") == true,
            "\(child.stderrText)")
    }

    @Test func selectorBenchListsNoUringWhereItIsSwitchedOff() throws {
        let executable = try builtExecutable("selector-bench")
        let child = try ChildProcess(
            shell: "SELECTORS_USE_IO_URING=0 exec '\(executable)' --backend uring")
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 2)
        #expect(
            child.stderrText.contains(
                "--backend must be all|epoll|poll|select: the uring backend is not available: switched off"),
            "\(child.stderrText)")
    }

    // Where the probe passed, the same binaries take it.
    @Test(.enabled(if: Backend.uring.isAvailable, "io_uring is not usable here"))
    func echoServerServesOnUringWhereItIsUsable() throws {
        let executable = try echoServerExecutable()
        let child = try ChildProcess(
            path: executable, arguments: [executable, "--port", "0", "--backend", "uring"])
        let line = try #require(child.waitForLine(containing: "listening on"))
        #expect(line.contains("(uring, 1 thread)"), "\(line)")
        try Client.roundTrip(try listeningAddress(line))
        child.signal(SIGTERM)
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 0)
    }
}
