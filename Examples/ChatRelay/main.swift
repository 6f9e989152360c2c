import Glibc  // exit, write (import Darwin on macOS)
import Selectors

// A line chat relay: each complete line a client sends goes to every other client (try nc).
let arguments = Array(CommandLine.arguments.dropFirst())
let port = arguments.count > 0 ? UInt16(arguments[0]) : 7000  // 0: any free port
let idleSeconds = arguments.count > 1 ? Int(arguments[1]) : 60
let backend = arguments.count > 2 ? Backend(name: arguments[2]) : .default
guard let port, let idleSeconds, idleSeconds > 0, let backend, backend.isAvailable, arguments.count < 4 else {
    let usage = "usage: chat-relay [PORT] [IDLE-SECONDS] [epoll|poll|select]\n"
    _ = write(2, usage, usage.utf8.count)  // standard error, as for every error
    exit(2)
}

/// Says on standard error what failed, and exits with status 1 (an error thrown out here, at
/// the top level, would crash the program instead).
func fail(_ message: String) -> Never {
    let line = "chat-relay: \(message)\n"
    _ = write(2, line, line.utf8.count)
    exit(1)
}

let io: IsolatedEventLoop  // this thread runs the loop
do { io = try EventLoop(backend: backend).assumeIsolated() } catch { fail("\(error)") }
var options = Connections.Options()
options.highWaterMark = 128 * 1024  // output queued for a client that does not read: then it goes

/// Each client's unfinished line, and when it last sent a complete one.
var clients: [Connection: (partial: [UInt8], lastLine: LoopInstant)] = [:]

do {
    let chat = try Connections(loop: io, options: options) { client, event in
        switch event {
        case .received(let bytes):
            guard var (partial, lastLine) = clients[client] else { return }
            partial += bytes
            // Everything up to the last newline is complete lines: one write to each other client.
            if let end = partial.lastIndex(of: UInt8(ascii: "\n")) {
                for other in clients.keys where other != client {
                    try? other.write(partial[...end])  // sent at once; queued if it must wait
                }
                partial.removeSubrange(...end)
                lastLine = io.now
            }
            clients[client] = (partial, lastLine)
            if partial.count > 64 * 1024 { client.abort() }  // no newline in sight: not a chat client
        case .outputFull: client.abort()  // a slow reader: drop it rather than queue without end
        case .closed: clients[client] = nil  // the last event of every connection
        default: break  // .endOfInput: it closes by itself once its output is written
        }
    }
    let listener = try Listener(address: .ipv4Loopback(port: port))
    try listener.accept(on: io) { event in
        guard case .accepted(let fd) = event else { return }  // or .paused(EMFILE), .resumed
        // Cap the kernel's send buffer too: for a client that does not read it would grow to megabytes.
        try? Socket.setSendBufferSize(fd, 32 * 1024)
        guard let client = try? chat.adopt(fd) else { return Socket.close(fd) }
        clients[client] = ([], io.now)
    }
    print("listening on \(listener.address)")
} catch {
    fail("cannot listen on 127.0.0.1:\(port): \(error)")  // the port is taken, say
}

// Kick clients with no line for IDLE-SECONDS: bye, then close; one still here next sweep is aborted.
io.schedule(after: .zero, repeating: min(.seconds(idleSeconds) / 4, .seconds(1))) {
    for (client, state) in clients where state.lastLine.duration(to: io.now) >= .seconds(idleSeconds) {
        do { try client.write("idle for \(idleSeconds) s, bye\n") } catch { client.abort() }
        client.close()
    }
}
do { try io.run() } catch { fail("\(error)") }
