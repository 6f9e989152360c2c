import CSelectors
import EchoService
import Glibc
import Selectors
import Testing

/// The `echo-server` executable in a child process (and one test with a child client).
/// Serialized: children are spawned one at a time, so no child inherits another test's pipe.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct EchoServerProcessTests {
    /// Starts `echo-server` with `arguments` (plus `--port 0` unless given) and waits for its
    /// listening line. `prelude` is code for `shell`, run before the server replaces the shell.
    func launch(
        _ arguments: [String], limitDescriptors: Int? = nil, prelude: String? = nil,
        shell: String = "/bin/sh",
        blockedStderr: Bool = false
    ) throws -> (ChildProcess, SocketAddress) {
        let executable = try echoServerExecutable()
        let all = arguments.contains("--port") ? arguments : ["--port", "0"] + arguments
        var command = (["exec", executable] + all).map { "'\($0)'" }.joined(separator: " ")
        if let prelude { command = "\(prelude) && \(command)" }
        if let limitDescriptors { command = "ulimit -n \(limitDescriptors) && \(command)" }
        let child = try ChildProcess(
            path: shell, arguments: [shell, "-c", command], blockedStderr: blockedStderr)
        guard let line = child.waitForLine(containing: "listening on") else {
            _ = child.waitForExit(timeout: 1)
            throw TestFailure("no listening line; stdout: \(child.stdoutText) stderr: \(child.stderrText)")
        }
        return (child, try listeningAddress(line))
    }

    @Test(arguments: Backend.available)
    func runningOutOfDescriptorsNeitherSpinsNorCrashes(backend: Backend) throws {
        let (child, address) = try launch(["--backend", backend.rawValue], limitDescriptors: 64)
        let ticksPerSecond = ChildProcess.ticksPerSecond

        // 200 connections: the kernel queues them all, the server can accept only ~55.
        var clients: [Int32] = []
        defer { for fd in clients { Socket.close(fd) } }
        for _ in 0..<200 { clients.append(try Client.connect(address)) }
        sleep(seconds: 0.3)
        let before = try child.cpuTicks()
        let start = now()
        sleep(seconds: 1)
        let used = Double(try child.cpuTicks() - before) / Double(ticksPerSecond) / (now() - start)
        // Behaviour, not speed: a busy accept loop would use a whole core.
        #expect(used < 0.5, "the server used \(Int(used * 100))% of a core while out of descriptors")
        #expect(!child.hasExited)

        // Connections accepted before the limit are served meanwhile.
        var message = Array("served".utf8)
        try message.withUnsafeMutableBytes { try Client.exchange(clients[0], UnsafeRawBufferPointer($0)) }

        // Once the clients leave, descriptors free up and new connections are served again.
        for fd in clients { Socket.close(fd) }
        clients = []
        var served = false
        let deadline = now() + 10
        while !served && now() < deadline {
            served = (try? Client.roundTrip(address)) != nil
            if !served { sleep(seconds: 0.05) }
        }
        #expect(served)

        child.signal(SIGTERM)
        let status = child.waitForExit()
        #expect(status.flatMap(ChildProcess.exitCode) == 0, "stderr: \(child.stderrText)")
        #expect(child.stderrText.contains("out of file descriptors"))
        #expect(child.stdoutText.contains("stopped;"))
        #expect(!child.stdoutText.contains(" 0 out of descriptors"))
    }

    /// The async API out of descriptors: its accept loop waits on the loop's own timer. It
    /// used `Task.sleep`, whose timer is the global executor's, which needs descriptors of its
    /// own to start: the server trapped (SIGILL) at the first failed accept.
    @Test func theAsyncAPIOutOfDescriptorsRecovers() throws {
        let (child, address) = try launch(["--api", "async"], limitDescriptors: 32)
        var clients: [Int32] = []
        defer { for fd in clients { Socket.close(fd) } }
        for _ in 0..<60 {
            guard let fd = try? Client.connect(address) else { break }
            clients.append(fd)
        }
        sleep(seconds: 0.5)
        #expect(!child.hasExited, "stderr: \(child.stderrText)")
        for fd in clients { Socket.close(fd) }
        clients = []
        var served = false
        let deadline = now() + 20
        while !served && now() < deadline && !child.hasExited {
            served = (try? Client.roundTrip(address)) != nil
            if !served { sleep(seconds: 0.05) }
        }
        #expect(served)
        child.signal(SIGTERM)
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 0, "stderr: \(child.stderrText)")

        // Stopped while out of descriptors (its accept loop waiting out a failed accept, or
        // about to): it still drains and exits 0.
        let (second, secondAddress) = try launch(
            ["--api", "async", "--drain-timeout", "0.2"], limitDescriptors: 32)
        for _ in 0..<60 {
            guard let fd = try? Client.connect(secondAddress) else { break }
            clients.append(fd)
        }
        sleep(seconds: 0.3)
        second.signal(SIGTERM)
        #expect(second.waitForExit().flatMap(ChildProcess.exitCode) == 0, "stderr: \(second.stderrText)")
    }

    @Test(arguments: Backend.available)
    func sigtermFlushesPendingDataThenExitsZero(backend: Backend) throws {
        let (child, address) = try launch(["--backend", backend.rawValue])
        let sockets = ClientSockets()
        defer { sockets.closeAll() }
        let idle = try sockets.connect(address)
        let busy = try sockets.connect(address)
        let pattern = Pattern()
        // Fill the pipeline until the server stops reading (its notice says so): it holds
        // ~256 KiB of pending output.
        let sent = try Client.fillUntilServerStopsReading(busy, from: pattern) {
            child.pumpedStderrLines(containing: "paused reading") > 0
        }
        child.signal(SIGTERM)

        // What the server had read comes back, then a reset for the input it dropped; the
        // idle client gets an orderly end of stream.
        let (received, ending) = try Client.readPattern(busy, pattern)
        #expect(ending == .reset)
        #expect(try Client.readPattern(idle, pattern) == (0, .endOfStream))
        sockets.close(busy)
        sockets.close(idle)

        let status = child.waitForExit()
        #expect(status.flatMap(ChildProcess.exitCode) == 0, "stderr: \(child.stderrText)")
        #expect(received > 256 * 1024 && received <= sent)
        // The summary counts exactly the bytes that reached the client: nothing pending was lost.
        #expect(child.stdoutText.contains("accepted 2 connections"), "\(child.stdoutText)")
        #expect(
            child.stdoutText.contains("echoed \(received) of"), "received \(received): \(child.stdoutText)")
        #expect(child.stdoutText.contains("aborted by the server 1;"), "\(child.stdoutText)")
        #expect(child.stderrText.contains("received SIGTERM"))
    }

    /// A real client process killed (SIGKILL) while writing: bash connects with /dev/tcp and
    /// `cat` streams zeros without ever reading, so the server's output to it is pending when
    /// the kernel tears the socket down (an RST, since the dead client left data unread).
    @Test(arguments: Backend.available)
    func clientKilledMidWriteLeavesTheServerServing(backend: Backend) throws {
        let server = try startServer(backend)
        defer { server.stop() }
        let port = server.address.port
        let child = try ChildProcess(
            path: "/bin/bash",
            arguments: ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\(port) && exec cat /dev/zero >&3"])
        #expect(
            eventually { server.statistics.readPauses > 0 }, "the client never filled the server's buffer")
        child.signal(SIGKILL)
        #expect(child.waitForExit() != nil)

        #expect(eventually { server.statistics.active == 0 })
        let statistics = server.statistics
        #expect(statistics.accepted == 1)
        #expect(statistics.pendingBytes == 0)
        #expect(statistics.peakPendingBytes <= server.configuration.highWaterMark + 64 * 1024)
        try Client.roundTrip(server.address)
    }

    @Test func badArgumentsExitWithStatusTwoAndOneLine() throws {
        let executable = try echoServerExecutable()
        for arguments in [
            ["--bogus"], ["--port", "70000"], ["--backend", "nope"], ["--port"], ["extra"],
            ["--port", "+80"],
            ["--backend", "EPOLL"], ["--idle-timeout", "0x10"], ["--", "--", "--port", "0"],
            // Once split in two lines by the newline; once dropped whole for its length, with
            // "1 line dropped: output was not writable" printed in its place.
            ["--port", "5\n"], ["--port", String(repeating: "9", count: 100_000)],
        ] {
            let child = try ChildProcess(path: executable, arguments: [executable] + arguments)
            let status = child.waitForExit()
            #expect(status.flatMap(ChildProcess.exitCode) == 2, "\(arguments.map { $0.prefix(40) })")
            let lines = child.stderrText.split(separator: "\n")
            #expect(
                lines.count == 1 && lines[0].hasPrefix("echo-server: ") && lines[0].count < 300,
                "\(arguments.map { $0.prefix(40) }): \(child.stderrText.prefix(400))")
            #expect(child.stdoutText.isEmpty)
        }
        let help = try ChildProcess(path: executable, arguments: [executable, "--help"])
        #expect(help.waitForExit().flatMap(ChildProcess.exitCode) == 0)
        #expect(help.stdoutText.contains("--idle-timeout"))
        // As `swift run -c release echo-server -- --version` runs it: SwiftPM passes `--` on.
        for arguments in [["--version"], ["--", "--version"]] {
            let version = try ChildProcess(path: executable, arguments: [executable] + arguments)
            #expect(version.waitForExit().flatMap(ChildProcess.exitCode) == 0)
            #expect(version.stdoutText == "echo-server (swift-selectors) \(SelectorsPackage.version)\n")
        }
    }

    /// Both command lines share one version string, skip the `--` that `swift run` passes on,
    /// and take a later `--` as the end of the options; selector-bench refuses server choices
    /// beside `--target`.
    @Test func selectorBenchPrintsTheVersionAndRefusesArgumentsAfterDoubleDash() throws {
        let executable = try echoServerExecutable().replacingSuffix("echo-server", with: "selector-bench")
        for arguments in [["--version"], ["--", "--version"]] {
            let version = try ChildProcess(path: executable, arguments: [executable] + arguments)
            #expect(version.waitForExit().flatMap(ChildProcess.exitCode) == 0)
            #expect(version.stdoutText == "selector-bench (swift-selectors) \(SelectorsPackage.version)\n")
        }
        let extra = try ChildProcess(path: executable, arguments: [executable, "--", "--", "--quick"])
        #expect(extra.waitForExit().flatMap(ChildProcess.exitCode) == 2)
        #expect(extra.stderrText.contains("unexpected argument '--quick'"), "\(extra.stderrText)")
        // Flags that choose the servers run here mean nothing for an external one: refused,
        // rather than ignored while the report looks as if they applied.
        for (flags, named) in [
            (["--backend", "poll"], "--backend chooses"),
            (["--trigger", "edge", "--api", "async"], "--trigger, --api choose"),
        ] {
            let child = try ChildProcess(
                path: executable, arguments: [executable, "--quick", "--target", "127.0.0.1:9"] + flags)
            #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 2, "\(flags)")
            let lines = child.stderrText.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(named), "\(flags): \(child.stderrText)")
        }
    }

    @Test func addressInUseExitsWithStatusOne() throws {
        let (listener, address) = try Socket.makeListener(address: .ipv4Loopback(port: 0))
        defer { Socket.close(listener) }
        let executable = try echoServerExecutable()
        let child = try ChildProcess(path: executable, arguments: [executable, "--port", "\(address.port)"])
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 1)
        #expect(child.stderrText.contains("address already in use"), "\(child.stderrText)")
    }

    /// With no arguments the server listens on 127.0.0.1:7000, or, if something else holds
    /// that port, says so and exits with status 1.
    @Test func defaultAddressIsLoopbackPort7000() throws {
        let executable = try echoServerExecutable()
        let child = try ChildProcess(path: executable, arguments: [executable])
        if let line = child.waitForLine(containing: "listening on", timeout: 10) {
            #expect(line == "echo-server listening on 127.0.0.1:7000 (\(Backend.default), 1 thread)")
            child.signal(SIGINT)
            #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 0)
        } else {
            #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 1)
            #expect(child.stderrText.contains("127.0.0.1:7000: address already in use"))
        }
    }
}

extension String {
    fileprivate func replacingSuffix(_ suffix: String, with replacement: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self
    }
}
