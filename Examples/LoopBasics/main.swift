import Glibc  // SIGINT (import Darwin on macOS)
import Selectors

// Report what arrives on standard input and tick every second, until the input ends or
// Ctrl-C: `(echo hello; sleep 2; echo bye) | swift run loop-basics`.
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
