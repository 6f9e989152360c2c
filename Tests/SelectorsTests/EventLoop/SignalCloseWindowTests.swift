import CSelectors
import Selectors
import Testing

extension EventLoopSignalTests {
    /// Guards the window between a signal handler on another thread loading a loop's pipe
    /// number and writing its byte: if the loop closed the pipe in between and the number was
    /// reused, the byte landed in an unrelated file. Another thread raises SIGUSR2 at itself
    /// without pause while loops watching it are closed, and the pipes opened right after
    /// each close (which take the freed numbers) must stay empty. Before the close waited for
    /// handlers in flight, this test ended the process in 4 of 5 runs: a stray byte written to
    /// one of these pipes after its read end was closed raised SIGPIPE.
    @Test(arguments: Backend.available)
    func closingALoopWhileSignalsArriveWritesNothingIntoTheReusedNumbers(backend: Backend) throws {
        let stop = SharedFlag()
        let raised = SharedCounter()
        var strays = 0
        try withBackgroundThread({
            withSignals([SIGUSR2], unblocking: true) {
                while !stop.isSet {
                    raise(SIGUSR2)
                    raised.increment()
                }
            }
        }) {
            defer { stop.set() }
            for _ in 0..<300 {
                let loop = try EventLoop(backend: backend).assumeIsolated()
                try loop.onSignal(SIGUSR2) {}
                loop.close()
                // The loop freed four numbers (selector, waker, both pipe ends): take them all
                // and more, so whichever became a write end is watched.
                var pipes: [(read: Int32, write: Int32)] = []
                defer {
                    for ends in pipes {
                        _ = close(ends.write)
                        _ = close(ends.read)
                    }
                }
                for _ in 0..<3 { pipes.append(try closeOnExecPipe()) }
                sched_yield()
                for ends in pipes {
                    var entry = pollfd(fd: ends.read, events: Int16(POLLIN), revents: 0)
                    if poll(&entry, 1, 0) > 0 { strays += 1 }
                }
            }
        }
        #expect(strays == 0, "\(strays) signal bytes landed in pipes opened after a loop closed")
        #expect(raised.value > 0)
    }
}
