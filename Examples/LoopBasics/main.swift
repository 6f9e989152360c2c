import Glibc  // SIGINT (import Darwin on macOS)
import Selectors

// Report what arrives on standard input and tick every second, until the input ends or
// Ctrl-C: `(echo hello; sleep 2; echo bye) | swift run loop-basics`.
let loop = try EventLoop()  // or EventLoop(backend: .poll)

try loop.register(0, events: .read) { fd, _ in
    do {
        guard let count = try Socket.read(fd, into: loop.readBuffer) else { return }  // would block
        if count > 0 { return print("read \(count) bytes") }
        print("end of input")
    } catch {
        print("read failed: \(error)")
    }
    _ = try? loop.unregister(fd)  // at the end of input, or the loop would report it forever
    loop.stop()
}
let tick = loop.schedule(after: .milliseconds(100), repeating: .seconds(1)) { print("tick") }
try loop.onSignal(SIGINT) {
    tick.cancel()
    loop.stop()
}
loop.execute { print("runs on the loop thread") }  // execute, stop and wakeUp: from any thread

try loop.run()  // until loop.stop()
loop.close()
