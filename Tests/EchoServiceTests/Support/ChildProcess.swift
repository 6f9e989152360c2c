import CSelectors
import Glibc
import Selectors

/// A child process started with `posix_spawn` (fork is unsafe in a multithreaded Swift
/// process), its stdout and stderr captured through pipes. Killed and reaped on deinit if the
/// test did not wait for it.
final class ChildProcess {
    let pid: pid_t
    private let stdoutFD: Int32
    private let stderrFD: Int32
    private(set) var stdout: [UInt8] = []
    private(set) var stderr: [UInt8] = []
    private var exitStatus: Int32?
    /// While true, stderr is not read: the child's writes to it block once the pipe is full.
    private var stderrPaused: Bool

    /// Runs `/bin/sh -c command`.
    convenience init(shell command: String, blockedStderr: Bool = false) throws {
        try self.init(path: "/bin/sh", arguments: ["/bin/sh", "-c", command], blockedStderr: blockedStderr)
    }

    /// Runs `path` with `arguments` (including argv[0]) and a minimal environment (the
    /// sanitizers' settings pass through). With
    /// `blockedStderr`, the child's stderr is a 4 KiB pipe that is already full and is not read
    /// until `resumeStderr()`: any write the child makes to it blocks (or fails with `EAGAIN`).
    init(path: String, arguments: [String], blockedStderr: Bool = false) throws {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw TestFailure("pipe failed") }
        // The read ends must not leak into this or any other child.
        for fd in outPipe + errPipe { _ = cselectors_fcntl_set(fd, F_SETFD, FD_CLOEXEC) }
        stderrPaused = blockedStderr
        if blockedStderr {
            do {
                try ChildProcess.fill(errPipe[1], capacity: 4096)
            } catch {
                for fd in outPipe + errPipe { Glibc.close(fd) }
                throw error
            }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        // A clean signal state: nothing blocked, and the signals the tests send (and SIGPIPE,
        // which the test process may ignore) back to their default actions.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = arguments.map { strdup($0) } + [nil]
        // The sanitizers' settings pass through, so a child of a sanitized run obeys them (an
        // AddressSanitizer run with `ASAN_OPTIONS=detect_leaks=0`, say).
        let sanitizerVariables: [String] = ["ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"]
        let sanitizerSettings = sanitizerVariables.compactMap { (name: String) -> String? in
            guard let value = getenv(name) else { return nil }
            return "\(name)=\(String(cString: value))"
        }
        let variables = ["PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"] + sanitizerSettings
        let environment = variables.map { strdup($0) } + [nil]
        defer { for pointer in argv + environment { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, environment)
        Glibc.close(outPipe[1])
        Glibc.close(errPipe[1])
        guard result == 0 else {
            Glibc.close(outPipe[0])
            Glibc.close(errPipe[0])
            throw TestFailure("posix_spawn \(path) failed: \(Errno(rawValue: result))")
        }
        self.pid = pid
        self.stdoutFD = outPipe[0]
        self.stderrFD = errPipe[0]
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        Glibc.close(stdoutFD)
        Glibc.close(stderrFD)
    }

    /// Makes the pipe behind `fd` (a write end) `capacity` bytes (`F_SETPIPE_SZ`) and fills it
    /// with filler lines until the kernel refuses more.
    private static func fill(_ fd: Int32, capacity: Int32) throws {
        let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ; not exported by Swift's Glibc module
        guard cselectors_fcntl_set(fd, setPipeSize, capacity) >= 0 else {
            throw TestFailure("F_SETPIPE_SZ failed")
        }
        let flags = cselectors_fcntl_get(fd, F_GETFL)
        _ = cselectors_fcntl_set(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = cselectors_fcntl_set(fd, F_SETFL, flags) }
        let line = Array("filler: the test fills this pipe before the child starts\n".utf8)
        // Whole lines while they fit, then single bytes for the last gap.
        while line.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) > 0 {}
        var byte = UInt8(ascii: "\n")
        while Glibc.write(fd, &byte, 1) > 0 {}
    }

    /// Starts reading the child's stderr (see `blockedStderr`).
    func resumeStderr() {
        stderrPaused = false
    }

    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// Reads whatever the pipes hold, waiting up to `timeout` seconds for something.
    private func pump(timeout: Double) {
        var entries = [pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)]
        if !stderrPaused { entries.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
        guard poll(&entries, nfds_t(entries.count), Int32(max(0, timeout) * 1000)) > 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        for entry in entries where entry.revents != 0 {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(entry.fd, $0.baseAddress, $0.count) }
            guard count > 0 else { continue }
            if entry.fd == stdoutFD {
                stdout += buffer[..<count]
            } else {
                stderr += buffer[..<count]
            }
        }
    }

    /// Waits up to `timeout` seconds for a complete stdout line containing `text`.
    func waitForLine(containing text: String, timeout: Double = 20) -> String? {
        let deadline = now() + timeout
        while true {
            let lines = stdoutText.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            if let line = lines.first(where: { $0.contains(text) }) { return String(line) }
            let remaining = deadline - now()
            if remaining <= 0 || hasExited { return nil }
            pump(timeout: min(remaining, 0.1))
        }
    }

    /// Waits up to `timeout` seconds for a complete stderr line containing `text`.
    func waitForStderrLine(containing text: String, timeout: Double = 20) -> String? {
        let deadline = now() + timeout
        while true {
            let lines = stderrText.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            if let line = lines.first(where: { $0.contains(text) }) { return String(line) }
            let remaining = deadline - now()
            if remaining <= 0 || hasExited { return nil }
            pump(timeout: min(remaining, 0.1))
        }
    }

    /// Reads what stderr holds now and counts its complete lines containing `text`.
    func pumpedStderrLines(containing text: String) -> Int {
        if !stderrPaused { pump(timeout: 0.05) }
        return stderrText.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            .filter { $0.contains(text) }.count
    }

    /// Whether the process has ended (reaping it if so).
    var hasExited: Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            exitStatus = status
            return true
        }
        return false
    }

    /// Waits up to `timeout` seconds for the process to exit, collecting its output; returns
    /// the raw wait status, or nil on timeout.
    func waitForExit(timeout: Double = 20) -> Int32? {
        let deadline = now() + timeout
        while !hasExited {
            if now() > deadline { return nil }
            pump(timeout: 0.05)
        }
        // Drain what is left in the pipes (the write ends are closed now).
        for _ in 0..<100 {
            let before = stdout.count + stderr.count
            pump(timeout: 0.01)
            if stdout.count + stderr.count == before { break }
        }
        return exitStatus
    }

    /// The exit code if the process exited normally.
    static func exitCode(_ status: Int32) -> Int32? {
        (status & 0x7F) == 0 ? (status >> 8) & 0xFF : nil
    }

    func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// User plus system CPU time so far, in clock ticks (`/proc/<pid>/stat` fields 14 and 15).
    func cpuTicks() throws -> Int {
        let text = try readFile("/proc/\(pid)/stat")
        // The command name (field 2) is in parentheses and may hold spaces: split after it.
        guard let close = text.lastIndex(of: ")") else { throw TestFailure("bad /proc stat: \(text)") }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else {
            throw TestFailure("bad /proc stat: \(text)")
        }
        return user + system
    }

    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
    static var ticksPerSecond: Int { sysconf(Int32(_SC_CLK_TCK)) }
}

/// Reads a whole (small) file.
func readFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw TestFailure("cannot open \(path): \(Errno(rawValue: errno))") }
    defer { Glibc.close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The `echo-server` executable built beside this test bundle.
func echoServerExecutable() throws -> String { try builtExecutable("echo-server") }

/// The executable product `name` built beside this test bundle (SwiftPM puts every product of
/// the package in the same directory, `.build/<triple>/debug/`).
func builtExecutable(_ name: String) throws -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { throw TestFailure("cannot read /proc/self/exe") }
    let executable = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    var directory = executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)]
    // On Linux the test runner is `<dir>/swift-selectorsPackageTests.xctest`; be tolerant of
    // a bundle directory layout too.
    if directory.hasSuffix(".xctest") || directory.hasSuffix("/Contents/MacOS") {
        directory = directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)]
    }
    let path = "\(directory)/\(name)"
    guard access(path, X_OK) == 0 else {
        throw TestFailure(
            "\(name) was not found at \(path); build it first (swift build --build-tests builds every product)"
        )
    }
    return path
}

/// Parses the port from `echo-server listening on 127.0.0.1:PORT (...)`.
func listeningAddress(_ line: String) throws -> SocketAddress {
    let words = line.split(separator: " ")
    guard let at = words.firstIndex(of: "on"), at + 1 < words.count else {
        throw TestFailure("no address in '\(line)'")
    }
    let text = String(words[at + 1])
    return try SocketAddress(parsing: text)
}
