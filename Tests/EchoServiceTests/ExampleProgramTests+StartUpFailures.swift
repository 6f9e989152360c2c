import Glibc
import Selectors
import Testing

/// The example programs when they cannot start, and callback-echo's command line. A `try` at
/// the top level of a program traps when it throws ("Fatal error: Error raised at top level",
/// status 132, a backtrace on standard error); the examples say instead in one line on
/// standard error what failed, and exit with status 1. Bad arguments get the usage line on
/// standard error and status 2, as in the other examples.
extension ExampleProgramTests {
    /// Each example server, told to listen on a port a socket of this test already listens on.
    @Test(arguments: ["callback-echo", "edge-echo", "chat-relay", "async-chat-relay", "http-hello"])
    func exampleServerOnATakenPortSaysSoInOneLineAndExitsWithStatusOne(program: String) throws {
        let taken = try Socket.makeListener(address: .ipv4Loopback(port: 0), backlog: 1)
        defer { Socket.close(taken.fd) }
        let port = taken.address.port
        let child = try ChildProcess(shell: "exec '\(try builtExecutable(program))' \(port)")
        let (status, stdout, stderr) = finish(child)
        #expect(status == 1, "\(program): \(stderr)")
        #expect(
            stderr == "\(program): cannot listen on 127.0.0.1:\(port): EADDRINUSE (Address already in use)\n",
            "\(program)")
        #expect(stdout.isEmpty, "\(program): \(stdout)")
    }

    /// Standard input that epoll refuses (`EPERM`): a regular file, the program's own.
    @Test(arguments: ["selector-basics", "loop-basics"])
    func exampleOnUnwatchableStandardInputSaysSoInOneLineAndExitsWithStatusOne(program: String) throws {
        let path = try builtExecutable(program)
        let child = try ChildProcess(shell: "exec '\(path)' < '\(path)'")
        let (status, stdout, stderr) = finish(child)
        #expect(status == 1, "\(program): \(stderr)")
        #expect(stderr == "\(program): register(fd: 0): EPERM (Operation not permitted)\n", "\(program)")
        #expect(stdout.isEmpty, "\(program): \(stdout)")
    }

    /// These used to listen on port 1234 as if no argument had been given.
    @Test func callbackEchoAnswersBadArgumentsWithUsageAndStatusTwo() throws {
        let path = try builtExecutable("callback-echo")
        for arguments in ["abc", "70000", "0 extra", "-1", "''", "--help"] {
            let (status, stdout, stderr) = finish(try ChildProcess(shell: "exec '\(path)' \(arguments)"))
            #expect(status == 2, "\(arguments): \(stderr)")
            #expect(stderr == "usage: callback-echo [PORT]\n", "\(arguments)")
            #expect(stdout.isEmpty, "\(arguments): \(stdout)")
        }
    }

    /// Waits (10 s at most, then kills it) for `child` to exit: its exit code (nil if it did
    /// not exit by itself, or was killed by a signal), standard output and standard error.
    private func finish(_ child: ChildProcess) -> (status: Int32?, stdout: String, stderr: String) {
        let status = child.waitForExit(timeout: 10)
        if status == nil {
            kill(child.pid, SIGKILL)
            _ = child.waitForExit(timeout: 5)
        }
        return (status.flatMap(ChildProcess.exitCode), child.stdoutText, child.stderrText)
    }
}
