import Glibc
import Selectors
import Testing

/// `Examples/LoopThreads` (the README's loop-thread program), run as a user runs it.
// Five minutes: the limit counts the wait for a thread, and under ThreadSanitizer these
// synchronous tests queue behind hundreds of others for the pool's two threads (a tighter
// limit was hit in CI while the test itself takes seconds).
@Suite(.timeLimit(.minutes(5)))
struct LoopThreadsExampleTests {
    @Test func loopThreadsRunsTasksOnTheirThreadsAndAWorkerAnswers() throws {
        let path = try builtExecutable("loop-threads")
        let child = try ChildProcess(path: path, arguments: [path])
        let status = child.waitForExit(timeout: 20)
        if status == nil { kill(child.pid, SIGKILL) }
        #expect(status.flatMap(ChildProcess.exitCode) == 0, "\(child.stderrText)")
        let lines = Set(child.stdoutText.split(separator: "\n").map(String.init))
        #expect(lines.contains("set up on the io thread"))
        #expect(lines.contains("a task on the io thread"))
        #expect(lines.contains("hello from worker 0") || lines.contains("hello from worker 1"), "\(lines)")
        #expect(lines.count == 3, "\(lines)")
    }
}
