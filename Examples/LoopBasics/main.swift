import Glibc  // SIGINT, exit, write (import Darwin on macOS)
import Selectors

// Report what arrives on standard input and tick every second, until the input ends or
// Ctrl-C: `(echo hello; sleep 2; echo bye) | swift run loop-basics`.
do {
    let loop = try EventLoop()  // or EventLoop(backend: .poll); it belongs to this thread
    let io = loop.assumeIsolated()  // what only the loop's thread may do: register, timers, run

    try io.register(0, events: .read) { fd, _ in
        do {
            guard let count = try Socket.read(fd, into: io.readBuffer) else { return }  // would block
            if count > 0 { return print("read \(count) bytes") }
            print("end of input")
        } catch {
            print("read failed: \(error)")
        }
        _ = try? io.unregister(fd)  // at the end of input, or the loop would report it forever
        io.stop()
    }
    let tick = io.schedule(after: .milliseconds(100), repeating: .seconds(1)) { print("tick") }
    try io.onSignal(SIGINT) {
        tick.cancel()
        io.stop()
    }
    try loop.execute { print("runs on the loop thread") }  // execute, stop, wakeUp: any thread

    try io.run()  // until stop()
    io.close()
} catch {
    // Say what failed (on standard error) and exit 1: an error thrown out here would crash.
    let line = "loop-basics: \(error)\n"
    _ = write(2, line, line.utf8.count)
    exit(1)
}
