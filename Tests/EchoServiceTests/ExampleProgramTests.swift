import Glibc
import Selectors
import Testing

/// The programs in Examples/ (the README's code blocks, verbatim; `.ci/check-readme` keeps the
/// two in step), each run as a child process against real input, the way a user runs them.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ExampleProgramTests {
    /// Runs `command` (with `$EXAMPLE` set to the example's path) in a shell and returns its
    /// exit status and standard output.
    private func run(_ example: String, _ command: String) throws -> (status: Int32?, output: String) {
        let path = try builtExecutable(example)
        let child = try ChildProcess(shell: "EXAMPLE='\(path)'; \(command)")
        let status = child.waitForExit(timeout: 20)
        if status == nil { kill(child.pid, SIGKILL) }
        return (status, child.stdoutText + child.stderrText)
    }

    /// Runs the example server `program` with `arguments` (after `prelude`, shell code such
    /// as a `ulimit`), waits for its listening line, and calls `body` with it and its address;
    /// then kills it. Standard output is a pipe here, so the line needs line buffering.
    private func withListening(
        _ program: String, _ arguments: String, prelude: String = "",
        _ body: (ChildProcess, SocketAddress) throws -> Void
    ) throws {
        let path = try builtExecutable(program)
        let child = try ChildProcess(shell: "\(prelude) exec stdbuf -oL '\(path)' \(arguments)")
        defer {
            kill(child.pid, SIGKILL)
            _ = child.waitForExit(timeout: 5)
        }
        guard let line = child.waitForLine(containing: "listening on") else {
            throw TestFailure("no listening line; output: \(child.stdoutText) \(child.stderrText)")
        }
        try body(child, try listeningAddress(line))
    }

    @Test func selectorBasicsReportsStandardInputReadable() throws {
        let (status, output) = try run("selector-basics", "printf hello | \"$EXAMPLE\"")
        #expect(status == 0)
        #expect(output == "fd 0 is ready for [read]\n")
    }

    @Test func loopBasicsReadsEverythingThenStopsAtEndOfInput() throws {
        let (status, output) = try run(
            "loop-basics", "(printf hello; sleep 0.3; printf bye) | \"$EXAMPLE\"")
        #expect(status == 0)
        let lines = output.split(separator: "\n")
        // However the kernel splits the input into reads, every byte is counted once.
        let bytes = lines.compactMap { line -> Int? in
            guard line.hasPrefix("read "), line.hasSuffix(" bytes") else { return nil }
            return Int(line.dropFirst(5).dropLast(6))
        }
        #expect(bytes.reduce(0, +) == 8)
        #expect(lines.contains("runs on the loop thread"))
        #expect(lines.last == "end of input")
    }

    /// Its own `precondition`s are the checks: a failing one ends it with a crash.
    @Test func virtualLoopTestingClosesTheIdleConnectionAfterFiveSilentSeconds() throws {
        let (status, output) = try run("virtual-loop-testing", "exec \"$EXAMPLE\"")
        #expect(status == 0)
        #expect(output == "closed at 9 s, after 2 messages\n")
    }

    @Test func echoServiceBasicsStartsAndStops() throws {
        let (status, output) = try run("echo-service-basics", "exec \"$EXAMPLE\"")
        #expect(status == 0)
        #expect(output.hasPrefix("echoing on 127.0.0.1:"))
    }

    /// Out of descriptors (a low `ulimit -n`), the examples that take no input say what failed
    /// in one line and exit with status 1, rather than crashing on an error thrown at the top
    /// level (which they did: SIGILL), or waiting for ever on a worker that cannot accept
    /// (loop-threads' client did); with enough descriptors they run as usual.
    @Test(arguments: ["loop-threads", "echo-service-basics"])
    func examplesOutOfDescriptorsExitWithOneLine(example: String) throws {
        var refusals = 0
        var successes = 0
        // From 4: the program and its libraries load, and fds 0-2 are there.
        for limit in 4...32 {
            let (status, output) = try run(example, "exec 0</dev/null; ulimit -n \(limit); exec \"$EXAMPLE\"")
            switch status.flatMap(ChildProcess.exitCode) {
            case 1:
                refusals += 1
                let last = output.split(separator: "\n").last ?? ""
                // EMFILE, or, when only the server's accept ran out, the client's bounded wait.
                #expect(
                    last.hasPrefix("\(example): ") && (last.contains("EMFILE") || last.contains("ETIMEDOUT")),
                    "\(limit): \(output)")
            case 0:
                successes += 1
            default:
                Issue.record("\(example) with \(limit) descriptors: \(String(describing: status)) \(output)")
            }
        }
        #expect(refusals > 0 && successes > 0, "refused \(refusals), ran \(successes)")
    }

    /// Two clients at once, each sending more than the socket buffers hold, so the server's
    /// writes come up short and it must keep the rest; then end of stream closes each.
    @Test func callbackEchoEchoesLargeMessagesExactlyOnce() throws {
        try withListening("callback-echo", "0") { _, address in
            let failures = onThreads(2) { index in
                let fd = try Client.connect(address)
                defer { Socket.close(fd) }
                var random = SplitMix64(seed: UInt64(index + 1))
                let message = (0..<(4 * 1024 * 1024)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                try message.withUnsafeBytes { try Client.exchange(fd, $0, halfClose: true) }
            }
            #expect(failures.isEmpty, "\(failures)")
        }
    }

    /// edge-echo out of descriptors: an accept that fails leaves clients queued that no new
    /// edge may ever report, so it tries again a moment later. It used to wait for the next
    /// client's edge, and once the flood had gone, the clients queued behind it waited for ever.
    @Test(arguments: Backend.available)
    func edgeEchoRecoversFromRunningOutOfDescriptors(backend: Backend) throws {
        try withListening("edge-echo", "0 \(backend)", prelude: "exec 0</dev/null; ulimit -n 12;") {
            child, address in
            var flood: [Int32] = []
            for _ in 0..<40 {
                guard let fd = try? Socket.connect(to: address).fd else { break }
                flood.append(fd)
            }
            sleep(seconds: 0.3)
            for fd in flood { Socket.close(fd) }
            // The flood's queued connections are accepted and closed, then these are served.
            for index in 0..<4 {
                #expect(throws: Never.self, "client \(index)") { try Client.roundTrip(address) }
            }
            #expect(
                child.waitForLine(containing: "accept failed: EMFILE") != nil,
                "\(child.stdoutText.suffix(300))")
        }
    }

    /// The seed's edge-triggered server, on every backend: two clients send more than the
    /// socket buffers hold (short writes, write edges, interest toggled back and forth) while a
    /// third makes many small round trips (each request arrives after the server drained the
    /// last one, the edge an emulation that compares waits would miss); each ends with a
    /// half-close, which the server must echo to the end and then answer with its own.
    @Test(arguments: Backend.available)
    func edgeEchoServesLargeMessagesAndManyRoundTripsOnEveryBackend(backend: Backend) throws {
        try withListening("edge-echo", "0 \(backend)") { child, address in
            #expect(child.stdoutText.contains("(\(backend), edge-triggered)"))
            let failures = onThreads(3) { index in
                let fd = try Client.connect(address)
                defer { Socket.close(fd) }
                var random = SplitMix64(seed: UInt64(index + 11))
                if index < 2 {
                    let message = (0..<(4 * 1024 * 1024)).map { _ in UInt8(truncatingIfNeeded: random.next())
                    }
                    try message.withUnsafeBytes { try Client.exchange(fd, $0, halfClose: true) }
                } else {
                    for round in 0..<300 {
                        let message = (0..<(1 + round % 200)).map { _ in
                            UInt8(truncatingIfNeeded: random.next())
                        }
                        try message.withUnsafeBytes { try Client.exchange(fd, $0, halfClose: round == 299) }
                    }
                }
            }
            #expect(failures.isEmpty, "\(failures)")
        }
    }

    @Test func edgeEchoAnswersBadArgumentsWithUsageAndStatusTwo() throws {
        let (status, output) = try run("edge-echo", "\"$EXAMPLE\" 70000")
        #expect(status.flatMap(ChildProcess.exitCode) == 2)
        #expect(output.hasPrefix("usage: edge-echo [PORT]"))
    }
}
