import CSelectors
import EchoService
import Glibc
import Selectors
import Testing

/// The faults an attack run found in the `echo-server` executable, each in a child process.
/// An extension of `EchoServerProcessTests`, so these children too are spawned one at a time.
extension EchoServerProcessTests {
    /// The server used to write its notices with a blocking `write` on the loop thread: with
    /// a 4 KiB stderr pipe nobody read and `ulimit -n 64`, it stopped echoing after 26 rounds
    /// of running out of descriptors. Here stderr is full before the server starts; notices
    /// (descriptor exhaustion, statistics every 0.1 s and on SIGUSR1) pile up unread while the
    /// clients churn, and every round is still served.
    @Test(arguments: Backend.available)
    func aBlockedStandardErrorNeverStopsTheServer(backend: Backend) throws {
        let (child, address) = try launch(
            ["--backend", backend.rawValue, "--stats-interval", "0.1"], limitDescriptors: 64,
            blockedStderr: true)
        for round in 0..<30 {
            var clients: [Int32] = []
            for _ in 0..<80 {
                guard let fd = try? Client.connect(address) else { break }
                clients.append(fd)
            }
            sleep(seconds: 0.02)
            for fd in clients { Socket.close(fd) }
            child.signal(SIGUSR1)
            var served = false
            let deadline = now() + 10
            while !served && now() < deadline {
                served = (try? Client.roundTrip(address)) != nil
                if !served { sleep(seconds: 0.02) }
            }
            #expect(served, "round \(round): not served")
            if !served { break }
        }
        #expect(!child.hasExited)

        // Once someone reads stderr, the notices waiting in the server arrive, timestamped.
        child.resumeStderr()
        let exhausted = child.waitForStderrLine(containing: "out of file descriptors")
        #expect(exhausted.map(isTimestampedNotice) == true, "\(exhausted ?? "none")")
        #expect(child.waitForStderrLine(containing: "statistics: ") != nil)
        child.signal(SIGTERM)
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 0)
        #expect(child.stdoutText.contains("stopped; accepted "), "\(child.stdoutText)")
    }

    /// `SO_REUSEPORT` let two `echo-server --threads 2` share a port and split its clients.
    @Test(arguments: [1, 2, 4])
    func aSecondInstanceOnTheSamePortExitsWithStatusOne(threads: Int) throws {
        let (first, address) = try launch(["--threads", "\(threads)"])
        let executable = try echoServerExecutable()
        let second = try ChildProcess(
            path: executable, arguments: [executable, "--port", "\(address.port)", "--threads", "\(threads)"])
        #expect(second.waitForExit().flatMap(ChildProcess.exitCode) == 1)
        #expect(second.stderrText.contains("address already in use"), "\(second.stderrText)")
        for _ in 0..<20 { try Client.roundTrip(address) }
        first.signal(SIGTERM)
        #expect(first.waitForExit().flatMap(ChildProcess.exitCode) == 0)
        #expect(first.stdoutText.contains("accepted 20 connections"), "\(first.stdoutText)")
    }

    /// SIGHUP used to kill the server without a drain or a summary; now it drains like SIGTERM.
    @Test func sighupDrainsLikeSigterm() throws {
        let (child, address) = try launch([])
        let client = try Client.connect(address)
        // Closed only here: a second close, after the wait below, could close a descriptor
        // that another test, running alongside, has opened with the same number since.
        defer { Socket.close(client) }
        var message = Array("hang up".utf8)
        try message.withUnsafeMutableBytes { try Client.exchange(client, UnsafeRawBufferPointer($0)) }
        child.signal(SIGHUP)
        #expect(Client.readUntilEnd(client) == (0, true))
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 0)
        #expect(child.stdoutText.contains("stopped; accepted 1 connection"), "\(child.stdoutText)")
        #expect(child.stderrText.contains("received SIGHUP; draining"), "\(child.stderrText)")
    }

    /// Started with SIGHUP ignored (as `nohup` does), the server leaves it ignored.
    @Test func sighupStaysIgnoredWhenIgnoredAtStart() throws {
        let (child, address) = try launch([], prelude: "trap '' HUP")
        child.signal(SIGHUP)
        // Signals are handled in order: once SIGUSR1's line is out, SIGHUP has had its chance.
        child.signal(SIGUSR1)
        #expect(child.waitForStderrLine(containing: "statistics: ") != nil)
        try Client.roundTrip(address)
        #expect(!child.hasExited)
        child.signal(SIGTERM)
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 0)
        #expect(!child.stderrText.contains("SIGHUP"), "\(child.stderrText)")
    }

    /// SIGUSR1 used to kill the server; now it logs the live statistics.
    @Test func sigusr1LogsLiveStatisticsAndServingGoesOn() throws {
        let (child, address) = try launch(["--quiet"])
        try Client.roundTrip(address)
        child.signal(SIGUSR1)
        let line = child.waitForStderrLine(containing: "statistics: ")
        #expect(line.map(isTimestampedNotice) == true, "\(line ?? "none")")
        #expect(line?.contains("statistics: 0 open, 0 bytes pending") == true, "\(line ?? "none")")
        #expect(line?.contains("accepted 1 connection (0 rejected); closed by clients 1") == true)
        try Client.roundTrip(address)
        child.signal(SIGTERM)
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 0)
    }

    /// SIGUSR2 and SIGALRM used to kill the server; now they are logged and ignored.
    @Test func sigusr2AndSigalrmAreLoggedAndIgnored() throws {
        let (child, address) = try launch([])
        child.signal(SIGUSR2)
        #expect(child.waitForStderrLine(containing: "received SIGUSR2; ignored") != nil)
        child.signal(SIGALRM)
        #expect(child.waitForStderrLine(containing: "received SIGALRM; ignored") != nil)
        try Client.roundTrip(address)
        #expect(!child.hasExited)
        child.signal(SIGTERM)
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 0)
    }

    /// SIGQUIT used to make the Swift runtime print a crash report and keep serving; now the
    /// server exits at once (status 131, no drain, no summary) after one line.
    @Test func sigquitExitsAtOnceWithOneLineAndNoCrashReport() throws {
        let (child, address) = try launch(["--threads", "2"])
        let client = try Client.connect(address)
        defer { Socket.close(client) }
        var message = Array("quit".utf8)
        try message.withUnsafeMutableBytes { try Client.exchange(client, UnsafeRawBufferPointer($0)) }
        child.signal(SIGQUIT)
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 131)
        let lines = child.stderrText.split(separator: "\n")
        #expect(lines.count == 1, "\(child.stderrText)")
        #expect(
            lines.first?.contains("echo-server: received SIGQUIT; exiting at once without draining") == true)
        #expect(!child.stderrText.lowercased().contains("crash"))
        #expect(!child.stdoutText.contains("stopped;"))
    }

    /// `--quiet` used to drop the summary as well as the notices.
    @Test func quietKeepsTheSummary() throws {
        let (child, address) = try launch(["--quiet"])
        try Client.roundTrip(address)
        child.signal(SIGTERM)
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 0)
        #expect(
            child.stdoutText.contains(
                "stopped; accepted 1 connection (0 rejected); closed by clients 1, reset by clients 0"),
            "\(child.stdoutText)")
        #expect(child.stderrText.isEmpty, "\(child.stderrText)")
    }

    @Test func statsIntervalLogsLinesPeriodically() throws {
        let (child, address) = try launch(["--stats-interval", "0.1", "--quiet"])
        try Client.roundTrip(address)
        #expect(eventually { child.pumpedStderrLines(containing: "statistics: ") >= 3 })
        child.signal(SIGTERM)
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 0)
    }

    /// select cannot watch fds from `FD_SETSIZE` up: the attack run saw 2,595 client errors
    /// with no line in the log. The child starts with fds 10...1003 taken (bash), so its
    /// connections soon land above 1,023: the refusals are logged once, the server keeps
    /// serving the connections it can watch, and it said at start what would happen.
    /// Backends without a limit serve every connection and say nothing.
    @Test(arguments: Backend.available)
    func descriptorsBeyondTheBackendsLimitAreLoggedOnce(backend: Backend) throws {
        let limit = try Selector(backend: backend).descriptorLimit
        let (child, address) = try launch(
            ["--backend", backend.rawValue], limitDescriptors: 2048,
            prelude: "for ((fd = 10; fd < 1004; fd++)); do eval \"exec $fd</dev/null\"; done",
            shell: "/bin/bash")
        var clients: [Int32] = []
        defer { for fd in clients { Socket.close(fd) } }
        var served = 0
        for _ in 0..<40 {
            let fd = try Client.connect(address)
            clients.append(fd)
            var message = Array("high".utf8)
            if (try? message.withUnsafeMutableBytes({ try Client.exchange(fd, UnsafeRawBufferPointer($0)) }))
                != nil
            {
                served += 1
            }
        }
        if let limit {
            #expect(served >= 5 && served < 40, "served \(served)")
            #expect(child.waitForStderrLine(containing: "cannot watch fd") != nil)
            #expect(child.pumpedStderrLines(containing: "cannot watch fd") == 1, "\(child.stderrText)")
            #expect(
                child.stderrText.contains(
                    "warning: the \(backend) backend cannot watch descriptors from \(limit) up"))
        } else {
            #expect(served == 40)
            #expect(!child.stderrText.contains("cannot watch"), "\(child.stderrText)")
        }
        for fd in clients { Socket.close(fd) }
        clients = []
        child.signal(SIGTERM)
        #expect(child.waitForExit().flatMap(ChildProcess.exitCode) == 0)
    }
}

/// `2026-12-02T09:41:07.250Z echo-server: ...`
private func isTimestampedNotice(_ line: String) -> Bool {
    let parts = line.split(separator: " ", maxSplits: 1)
    guard parts.count == 2, parts[1].hasPrefix("echo-server: ") else { return false }
    let stamp = Array(parts[0].utf8)
    return stamp.count == 24 && stamp[4] == UInt8(ascii: "-") && stamp[10] == UInt8(ascii: "T")
        && stamp[19] == UInt8(ascii: ".") && stamp[23] == UInt8(ascii: "Z")
}
