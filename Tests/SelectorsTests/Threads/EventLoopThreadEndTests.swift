import CSelectors
import Selectors
import Synchronization
import Testing

/// A loop thread's end: the tasks accepted before the close run outside `run()`, and a
/// `run()` of theirs is refused like any nested one, since nothing could stop it there.
@Suite(.timeLimit(.minutes(5))) struct EventLoopThreadEndTests {
    /// `IsolatedEventLoop.run()`: "Throws ... `invalidArgument` when the loop is running
    /// already (called from one of its own handlers, tasks or timers: running is not
    /// reentrant)". A task that `execute` accepted just before the loop stopped runs in
    /// `closeRunningAcceptedTasks`, outside `run()`, where `isRunning` is false: its `run()`
    /// is let in, and since the task queue already refuses submissions, `stop()` no longer
    /// writes to the waker, so nothing can end that nested `run()` (the thread never ends,
    /// and `shutdown()` would wait forever).
    @Test func runFromATaskRunAtTheThreadsEndThrowsInsteadOfHanging() throws {
        let (reader, writer) = try closeOnExecPipe()
        defer {
            _ = close(reader)
            _ = close(writer)
        }
        let thread = try EventLoopThread(name: "thread-end-run")
        let loop = thread.loop
        let firstStarted = SharedFlag()
        let secondSubmitted = SharedFlag()
        let outcome = Shared<String?>(nil)
        // First task: stops the loop, and holds its iteration until the second task is queued,
        // so that the second is left for the thread's closing.
        try loop.execute {
            firstStarted.set()
            loop.stop()
            _ = holds(within: .seconds(5)) { secondSubmitted.isSet }
        }
        #expect(holds(within: .seconds(5)) { firstStarted.isSet })
        try loop.execute {
            let io = loop.assumeIsolated()
            // The test's escape hatch: a readable pipe stops even a nested run().
            _ = try? io.register(reader, events: .read) { _, _ in io.stop() }
            do {
                try io.run()
                outcome.withLock { $0 = "returned" }
            } catch {
                outcome.withLock { $0 = "threw: \(error)" }
            }
            _ = try? io.unregister(reader)
        }
        secondSubmitted.set()
        if !holds(within: .seconds(3), { outcome.value != nil }) {
            // The nested run() is running: stop() must still end it.
            thread.stop()
            let stopped = holds(within: .seconds(3)) { outcome.value != nil }
            #expect(stopped, "stop() did not end the run() called by a task at the thread's end")
            var byte: UInt8 = 1
            _ = write(writer, &byte, 1)
        }
        #expect(holds(within: .seconds(5)) { !thread.isRunning })
        thread.shutdown()
        #expect(outcome.value?.hasPrefix("threw") == true, "run() from a task: \(outcome.value ?? "nil")")
    }
}
