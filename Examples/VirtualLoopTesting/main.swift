import Selectors

/// Counts the messages on a connection and closes it after 5 s of silence.
final class IdleConnection {
    let loop: IsolatedEventLoop
    let fd: Int32
    private(set) var messages = 0
    private(set) var isClosed = false
    private var idleTimer: TimerHandle?

    init(loop: IsolatedEventLoop, fd: Int32) throws {
        self.loop = loop
        self.fd = fd
        try loop.register(fd, events: .read) { [unowned self] _, _ in self.readable() }
        restartIdleTimer()
    }

    private func readable() {
        messages += 1  // a real handler reads the fd here
        restartIdleTimer()
    }

    private func restartIdleTimer() {
        idleTimer?.cancel()
        idleTimer = loop.schedule(after: .seconds(5)) { [unowned self] in self.close() }
    }

    private func close() {
        isClosed = true
        _ = try? loop.unregister(fd)
    }
}

// fd 5 is only a number here, and time moves only when the test says so.
let test = VirtualEventLoop()
let connection = try IdleConnection(loop: test.loop, fd: 5)

try test.script.deliver(5, .read)  // a message arrives
try test.run()
precondition(connection.messages == 1)

try test.advance(by: .seconds(4))  // 4 s of silence: still open
try test.script.deliver(5, .read)  // another message restarts the idle clock
try test.advance(by: .seconds(4))
precondition(connection.messages == 2 && !connection.isClosed)

try test.advance(by: .seconds(1))  // 5 s after the last message
precondition(connection.isClosed)
print("closed at \(test.now.nanoseconds / 1_000_000_000) s, after \(connection.messages) messages")
