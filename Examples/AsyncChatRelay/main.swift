import Glibc  // exit, write (import Darwin on macOS)
import Selectors

// The chat relay of Examples/ChatRelay with async/await: an actor on the loop holds the room,
// each client is a task reading its lines, and the loop's thread runs it all.
let arguments = Array(CommandLine.arguments.dropFirst())
let port = arguments.count > 0 ? UInt16(arguments[0]) : 7000  // 0: any free port
let idleSeconds = arguments.count > 1 ? Int(arguments[1]) : 60
let backend = arguments.count > 2 ? Backend(name: arguments[2]) : .default
guard let port, let idleSeconds, idleSeconds > 0, let backend, backend.isAvailable, arguments.count < 4 else {
    let usage = "usage: async-chat-relay [PORT] [IDLE-SECONDS] [epoll|poll|select]\n"
    _ = write(2, usage, usage.utf8.count)  // standard error, as for every error
    exit(2)
}

/// Says on standard error what failed, and exits with status 1 (an error thrown out here, at
/// the top level, would crash the program instead).
func fail(_ message: String) -> Never {
    let line = "async-chat-relay: \(message)\n"
    _ = write(2, line, line.utf8.count)
    exit(1)
}

/// The clients and their lines; an actor whose executor is the loop, so it runs on the loop's
/// thread like the tasks that read, and its sends never wait.
actor Room {
    nonisolated let loop: EventLoop
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
    let idleLimit: Duration
    let highWaterMark: Int
    /// Each client, and when it last sent a complete line.
    private var clients: [ObjectIdentifier: (client: AsyncConnection, lastLine: LoopInstant)] = [:]

    init(loop: EventLoop, idleLimit: Duration, highWaterMark: Int) {
        self.loop = loop
        self.idleLimit = idleLimit
        self.highWaterMark = highWaterMark
    }

    /// Reads `client`'s lines until it leaves, relaying each complete one to the others.
    func serve(_ client: AsyncConnection) async {
        let id = ObjectIdentifier(client)
        clients[id] = (client, loop.now)
        defer {
            clients[id] = nil
            client.close()  // after what is queued for it; at once if it is gone
        }
        var partial: [UInt8] = []
        do {
            for try await chunk in client.inbound {  // until end of stream
                partial += chunk
                // Everything up to the last newline is complete lines: one send to each other client.
                if let end = partial.lastIndex(of: UInt8(ascii: "\n")) {
                    relay(partial[...end], from: id)
                    partial.removeSubrange(...end)
                    clients[id]?.lastLine = loop.now
                }
                // No newline in sight: not a chat client.
                if partial.count > 64 * 1024 { return client.abort() }
            }
        } catch {
            // Reset by its peer, aborted as a slow reader, kicked: it is gone.
        }
    }

    private func relay(_ lines: ArraySlice<UInt8>, from sender: ObjectIdentifier) {
        for (id, other) in clients where id != sender {
            // Sent at once; queued if it must wait. A client that lets its queue pass the mark is a
            // slow reader: drop it rather than queue without end.
            let sent = lines.withUnsafeBytes { bytes in (try? other.client.send(bytes)) != nil }
            if !sent || other.client.pendingOutputCount > highWaterMark { other.client.abort() }
        }
    }

    /// Kicks clients with no line for the idle limit: bye, then close; one still here at the
    /// next sweep (its bye not yet taken) is aborted.
    func sweep() {
        for (client, lastLine) in clients.values where lastLine.duration(to: loop.now) >= idleLimit {
            let bye = Array("idle for \(idleLimit.components.seconds) s, bye\n".utf8)
            do { try bye.withUnsafeBytes { try client.send($0) } } catch { client.abort() }
            client.close()
        }
    }
}

/// Accepts clients on the loop, each served by a task of its own there. (A plain function:
/// the tasks made here are nobody's, where the top-level code's would be the main actor's.)
func acceptClients(_ listener: Listener, into room: Room, using pool: AsyncConnections) {
    let loop = room.loop
    Task(executorPreference: loop) {
        for try await client in listener.connections(on: loop, using: pool) {
            // Cap the kernel's send buffer too: for a client that does not read it would grow to megabytes.
            try? Socket.setSendBufferSize(client.fd, 32 * 1024)
            Task(executorPreference: loop) { await room.serve(client) }
        }
    }
}

let io: IsolatedEventLoop  // this thread runs the loop
do { io = try EventLoop(backend: backend).assumeIsolated() } catch { fail("\(error)") }
var options = Connections.Options()
options.highWaterMark = 128 * 1024  // output queued for a client that does not read: then it goes
let room = Room(loop: io.eventLoop, idleLimit: .seconds(idleSeconds), highWaterMark: options.highWaterMark)
do {
    let listener = try Listener(address: .ipv4Loopback(port: port))
    acceptClients(listener, into: room, using: try AsyncConnections(on: io, options: options))
    print("listening on \(listener.address)")
} catch {
    fail("cannot listen on 127.0.0.1:\(port): \(error)")  // the port is taken, say
}

// The sweep runs on the loop's thread, where the room's executor is: assumeIsolated says so.
io.schedule(after: .zero, repeating: min(.seconds(idleSeconds) / 4, .seconds(1))) {
    room.assumeIsolated { $0.sweep() }
}
do { try io.run() } catch { fail("\(error)") }
