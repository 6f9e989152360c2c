import Glibc
import Selectors
import Testing

/// pipe-watcher (Examples/PipeWatcher), run as a child process whose command and standard
/// input are fed by the test.
extension ExampleProgramTests {
    /// The command is `cat` of a FIFO and standard input is another FIFO, both written by the
    /// test one step at a time, each step waiting for the watcher's answer: so the expected
    /// output, interleaving included, is exact. It covers a line in two writes (printed once
    /// whole, not before its newline), two lines in one write, the command going on after
    /// standard input ended, a last line without a newline, and the exit status.
    @Test(arguments: Backend.available)
    func pipeWatcherInterleavesCommandAndStandardInputLinesAsTheyCome(backend: Backend) throws {
        let path = try builtExecutable("pipe-watcher")
        // A write to a FIFO whose reader is gone raises SIGPIPE, which would end the whole test
        // run: the scenario runs on a thread of its own that blocks it (a signal still pending
        // when the thread ends is dropped), so a watcher that dies fails this test only.
        let failures = onThreads(1) { _ in
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            try pipeWatcherScenario(path, backend)
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// Many lines from both sides, far more than one read holds, so lines are split across
    /// reads: each side's lines come out complete and in order, and the exit status is the
    /// command's.
    @Test(arguments: Backend.available)
    func pipeWatcherKeepsEveryLineOfBothSourcesInOrder(backend: Backend) throws {
        let path = try builtExecutable("pipe-watcher")
        let child = try ChildProcess(
            shell: "seq 1 20000 | exec '\(path)' --backend \(backend) 'seq 1 30000; exit 7'")
        let status = child.waitForExit(timeout: 30)
        if status == nil { kill(child.pid, SIGKILL) }
        #expect(status.flatMap(ChildProcess.exitCode) == 7, "\(child.stderrText)")
        var fromStdin: [Int] = []
        var fromChild: [Int] = []
        var other: [Substring] = []
        for line in child.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("stdin: "), let number = Int(line.dropFirst(7)) {
                fromStdin.append(number)
            } else if line.hasPrefix("child: "), let number = Int(line.dropFirst(7)) {
                fromChild.append(number)
            } else {
                other.append(line)
            }
        }
        #expect(fromStdin == Array(1...20000))
        #expect(fromChild == Array(1...30000))
        #expect(other.isEmpty, "\(other.prefix(5))")
        #expect(child.stdoutText.hasSuffix("\n"))
    }

    /// A source that never sends a newline is printed in pieces of 64 KiB, each with its
    /// prefix, and the rest when it ends: the watcher holds no more than that of a line.
    @Test func pipeWatcherPrintsALineWithoutEndInPieces() throws {
        let path = try builtExecutable("pipe-watcher")
        let child = try ChildProcess(
            shell: "exec '\(path)' 'head -c 300000 /dev/zero | tr \"\\0\" a' < /dev/null")
        let status = child.waitForExit(timeout: 30)
        if status == nil { kill(child.pid, SIGKILL) }
        #expect(status.flatMap(ChildProcess.exitCode) == 0, "\(child.stderrText)")
        let lines = child.stdoutText.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "")
        let pieces = lines.dropLast()
        #expect(pieces.map { $0.utf8.count } == [65536, 65536, 65536, 65536, 37856].map { $0 + 7 })
        #expect(pieces.allSatisfy { $0.hasPrefix("child: ") && $0.dropFirst(7).allSatisfy { $0 == "a" } })
    }

    /// A command killed by a signal ends the watcher with 128 + the signal, as a shell
    /// reports it; standard input that epoll cannot watch (/dev/null, a regular file) is read
    /// with poll instead, unless a backend was asked for; no standard input at all is fine.
    @Test func pipeWatcherExitStatusesAndUnusualStandardInputs() throws {
        let path = try builtExecutable("pipe-watcher")
        func run(_ command: String) throws -> (status: Int32?, stdout: String, stderr: String) {
            let child = try ChildProcess(shell: command)
            let status = child.waitForExit(timeout: 20)
            if status == nil { kill(child.pid, SIGKILL) }
            return (status.flatMap(ChildProcess.exitCode), child.stdoutText, child.stderrText)
        }
        let killed = try run("exec '\(path)' 'echo before; kill -TERM $$; echo after' < /dev/null")
        #expect(killed.status == 128 + SIGTERM)
        #expect(killed.stdout == "child: before\n")

        var template = Array("/tmp/pipe-watcher-input-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        #expect(fd >= 0)
        let file = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(file) }
        _ = "one\ntwo".withCString { Glibc.write(fd, $0, 7) }
        Glibc.close(fd)
        let fromFile = try run("exec '\(path)' 'exit 0' < '\(file)'")
        #expect(fromFile.status == 0)
        #expect(fromFile.stdout == "stdin: one\nstdin: two\n")
        let refused = try run("exec '\(path)' --backend epoll 'exit 0' < '\(file)'")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("epoll cannot watch standard input"))

        let noInput = try run("exec '\(path)' 'echo alone' <&-")
        #expect(noInput.status == 0)
        #expect(noInput.stdout == "child: alone\n")

        let usage = try run("exec '\(path)'")
        #expect(usage.status == 2)
        #expect(usage.stderr.hasPrefix("usage: pipe-watcher"))
        // These used to run: an unknown backend was ignored (the default watched instead),
        // and an option alone was taken for the COMMAND (`sh -c --help`).
        for arguments in [
            "--backend nosuch 'exit 0'", "--backend scripted 'exit 0'", "--help", "--backend", "-x",
        ] {
            let refused = try run("exec '\(path)' \(arguments) < /dev/null")
            #expect(refused.status == 2, "\(arguments)")
            #expect(refused.stderr.hasPrefix("usage: pipe-watcher"), "\(arguments): \(refused.stderr)")
            #expect(refused.stdout.isEmpty, "\(arguments): \(refused.stdout)")
        }
    }

    /// Out of descriptors (a low `ulimit -n`), the watcher cannot make its loop or its pipe:
    /// it says so in one line and exits with status 1, rather than crashing on an error
    /// thrown at the top level (which it did: SIGILL), nor blaming its standard input (which
    /// `--backend epoll` did: "cannot watch standard input", status 2, for a pipe). With a few
    /// more descriptors it runs as usual.
    @Test(arguments: ["", "--backend epoll"])
    func pipeWatcherOutOfDescriptorsExitsWithOneLine(backend: String) throws {
        let path = try builtExecutable("pipe-watcher")
        var refusals = 0
        // 4 and up: the program and its libraries load, and fds 0-2 are there (stdin an
        // empty pipe).
        for limit in 4...12 {
            let child = try ChildProcess(
                shell: "printf '' | { ulimit -n \(limit); exec '\(path)' \(backend) 'echo hi'; }")
            let status = child.waitForExit(timeout: 20)
            if status == nil { kill(child.pid, SIGKILL) }
            let code = status.flatMap(ChildProcess.exitCode)
            if code == 1 {
                refusals += 1
                let lines = child.stderrText.split(separator: "\n")
                #expect(
                    lines.count == 1 && lines[0].hasPrefix("pipe-watcher: "), "\(limit): \(child.stderrText)")
                #expect(child.stderrText.contains("EMFILE"), "\(limit): \(child.stderrText)")
            } else {
                #expect(code == 0, "\(limit): \(String(describing: code)) \(child.stderrText)")
                #expect(child.stdoutText == "child: hi\n", "\(limit)")
            }
        }
        #expect(refusals > 0, "no limit was low enough to refuse")
    }
}

/// The steps of `pipeWatcherInterleavesCommandAndStandardInputLinesAsTheyCome`.
private func pipeWatcherScenario(_ path: String, _ backend: Backend) throws {
    var template = Array("/tmp/pipe-watcher-test-XXXXXX".utf8CString)
    guard mkdtemp(&template) != nil else { throw TestFailure("mkdtemp failed") }
    let directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let stdinPath = "\(directory)/stdin"
    let commandPath = "\(directory)/command"
    defer {
        unlink(stdinPath)
        unlink(commandPath)
        rmdir(directory)
    }
    guard mkfifo(stdinPath, 0o600) == 0, mkfifo(commandPath, 0o600) == 0 else {
        throw TestFailure("mkfifo failed")
    }
    let child = try ChildProcess(
        shell: "exec '\(path)' --backend \(backend) 'cat \"\(commandPath)\"; exit 3' < '\(stdinPath)'")
    defer {
        if !child.hasExited { kill(child.pid, SIGKILL) }
        _ = child.waitForExit(timeout: 5)
    }
    var stdinFIFO = try openForWriting(stdinPath, reader: child)
    defer { if stdinFIFO >= 0 { Glibc.close(stdinFIFO) } }
    var commandFIFO = try openForWriting(commandPath, reader: child)
    defer { if commandFIFO >= 0 { Glibc.close(commandFIFO) } }

    var expected = ""
    /// Writes `text` to `fd`, then waits for the output to be `expected` plus `output`.
    func step(_ fd: Int32, _ text: String, _ output: String) throws {
        let written = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard written == text.utf8.count else { throw TestFailure("write to a FIFO failed: \(errno)") }
        expected += output
        if let last = output.split(separator: "\n").last {
            guard child.waitForLine(containing: String(last), timeout: 10) != nil else {
                throw TestFailure("no '\(last)' in '\(child.stdoutText)' \(child.stderrText)")
            }
        }
        guard child.stdoutText == expected else {
            throw TestFailure("output '\(child.stdoutText)', expected '\(expected)'")
        }
    }

    try step(commandFIFO, "c1\n", "child: c1\n")
    try step(stdinFIFO, "s1\n", "stdin: s1\n")
    try step(commandFIFO, "c2 part", "")
    // Not printed before its newline comes.
    if let early = child.waitForLine(containing: "c2", timeout: 0.2) { throw TestFailure("early: \(early)") }
    try step(commandFIFO, " and rest\n", "child: c2 part and rest\n")
    try step(stdinFIFO, "s2\ns3\n", "stdin: s2\nstdin: s3\n")
    Glibc.close(stdinFIFO)
    stdinFIFO = -1
    try step(commandFIFO, "c3 after stdin ended\n", "child: c3 after stdin ended\n")
    try step(commandFIFO, "c4 no newline", "")
    Glibc.close(commandFIFO)
    commandFIFO = -1
    guard let status = child.waitForExit(timeout: 10) else { throw TestFailure("the watcher did not exit") }
    expected += "child: c4 no newline\n"
    guard child.stdoutText == expected, ChildProcess.exitCode(status) == 3 else {
        throw TestFailure("exit \(status), output '\(child.stdoutText)', expected '\(expected)'")
    }
}

/// Opens the FIFO at `path` for writing once its reader has opened it (a non-blocking open
/// fails with `ENXIO` until then), within 10 s, unless `reader` exits first.
private func openForWriting(_ path: String, reader: ChildProcess) throws -> Int32 {
    let deadline = now() + 10
    while now() < deadline, !reader.hasExited {
        let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        if fd >= 0 { return fd }
        guard errno == ENXIO else { throw TestFailure("open \(path): \(Errno(rawValue: errno))") }
        sleep(seconds: 0.01)
    }
    throw TestFailure("nobody opened \(path) for reading: \(reader.stdoutText) \(reader.stderrText)")
}
