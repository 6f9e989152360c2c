import Selectors

#if canImport(Glibc)
    import Glibc  // exit, write
#elseif canImport(Darwin)
    import Darwin
#endif

// The seed document's edge-triggered epoll echo server, in Swift. Each fd is registered with
// `trigger: .edge`, so a readiness is reported once: the server reads until the kernel says
// EAGAIN, and toggles write interest with `modify`, as the original does with
// EPOLLIN|EPOLLET and EPOLLOUT|EPOLLET. Unlike the original it does not spin on `send`: what
// the kernel does not take waits for the write edge. It accepts every queued connection per
// edge (the original took one, and left the rest until the next client came), and one busy
// client cannot starve the others: a connection still busy after a few rounds goes on after
// them.
//
// usage: edge-echo [PORT] [BACKEND]   (PORT 0 picks a free one; BACKEND epoll, poll or select)

let arguments = Array(CommandLine.arguments.dropFirst())
let port = arguments.isEmpty ? 10001 : UInt16(arguments[0])
let backend = arguments.count < 2 ? Backend.default : Backend(name: arguments[1])
guard let port, let backend, backend.isAvailable, arguments.count <= 2 else {
    let usage = "usage: edge-echo [PORT] [\(Backend.available.map(\.rawValue).joined(separator: "|"))]\n"
    _ = write(2, usage, usage.utf8.count)  // standard error, as for every error
    exit(2)
}

/// Says on standard error what failed, and exits with status 1 (an error thrown out here, at
/// the top level, would crash the program instead).
func fail(_ message: String) -> Never {
    let line = "edge-echo: \(message)\n"
    _ = write(2, line, line.utf8.count)
    exit(1)
}

/// One client: the echo bytes the kernel has not taken yet, and whether the client is done.
struct Connection {
    var unsent: [UInt8] = []
    var inputEnded = false
}

let selector: Selector
do { selector = try Selector(backend: backend) } catch { fail("\(error)") }
var connections: [Int32: Connection] = [:]
var unfinished: Set<Int32> = []  // connections that stopped for fairness, not at EAGAIN
var acceptRetry: LoopInstant?  // accepting stopped (out of descriptors, say) until then
var buffer = [UInt8](repeating: 0, count: 64 * 1024)

// Top-level state belongs to the main actor in Swift 6, and so do these functions; the
// selector runs the handlers on the main thread below.
@MainActor func acceptAll(_ listener: Int32) {
    // One edge may stand for many queued connections: take them all, until EAGAIN.
    while true {
        do {
            guard let fd = try Socket.accept(listener) else { return }
            do {
                try selector.register(fd, events: .read, trigger: .edge) { fd, _ in pump(fd) }
            } catch {
                // This connection only (an fd beyond what the backend can watch, say): closed,
                // so neither the descriptor nor the client is left waiting.
                print("cannot watch fd \(fd): \(error)")
                Socket.close(fd)
                continue
            }
            connections[fd] = Connection()
        } catch {
            // Out of descriptors, say. Stop watching for a moment (poll and select would
            // report the queued clients at every wait: a spin), then watch again: a new
            // registration reports what is queued, which no new edge may ever do.
            print("accept failed: \(error)")
            _ = try? selector.unregister(listener)
            acceptRetry = LoopInstant.now.advanced(by: .milliseconds(100))
            return
        }
    }
}

/// Moves bytes from the client back to it until one direction would block, then watches that
/// direction. Each round writes everything unsent, then reads once.
@MainActor func pump(_ fd: Int32) {
    guard var connection = connections[fd] else { return }
    for _ in 0..<16 {
        while !connection.unsent.isEmpty {
            let written: Int?
            do {
                written = try connection.unsent.withUnsafeBytes { try Socket.write(fd, from: $0) }
            } catch {
                return disconnect(fd)  // reset, broken pipe
            }
            guard let written, written > 0 else {
                connections[fd] = connection
                return watch(fd, .write)  // the kernel's buffer is full: wait for the write edge
            }
            connection.unsent.removeFirst(written)
        }
        if connection.inputEnded { return disconnect(fd) }  // everything echoed, the client is done
        let count: Int?
        do {
            count = try buffer.withUnsafeMutableBytes { try Socket.read(fd, into: $0) }
        } catch {
            return disconnect(fd)
        }
        guard let count else {
            connections[fd] = connection
            return watch(fd, .read)  // drained: whatever arrives next is a new edge
        }
        if count == 0 {
            connection.inputEnded = true  // end of stream: finish the echo, then close
        } else {
            connection.unsent = Array(buffer[..<count])
        }
    }
    connections[fd] = connection
    unfinished.insert(fd)
}

/// Watches `fd` for `events` only. A change re-arms the edge, so what is already waiting in
/// the new direction is reported; the same events again cost nothing.
@MainActor func watch(_ fd: Int32, _ events: Events) {
    do {
        try selector.modify(fd, events: events)
    } catch {
        disconnect(fd)
    }
}

@MainActor func disconnect(_ fd: Int32) {
    connections[fd] = nil
    unfinished.remove(fd)
    _ = try? selector.unregister(fd)
    Socket.close(fd)
}

let listener: Int32
do {
    let listening = try Socket.makeListener(address: .ipv4Loopback(port: port), backlog: 128)
    listener = listening.fd
    try selector.register(listener, events: .read, trigger: .edge) { fd, _ in acceptAll(fd) }
    print("listening on \(listening.address) (\(backend), edge-triggered)")
} catch {
    fail("cannot listen on 127.0.0.1:\(port): \(error)")  // the port is taken, say
}

do {
    while true {
        // With work left over, look for new events without blocking, then go on with it;
        // with accepting stopped, wait no longer than until it starts again.
        let timeout: Duration? =
            !unfinished.isEmpty ? .zero : acceptRetry.map { LoopInstant.now.duration(to: $0) }
        for (key, events) in try selector.select(timeout: timeout) {
            key.handler(key.fd, events)
        }
        let leftOver = unfinished
        unfinished = []
        for fd in leftOver { pump(fd) }
        if let retry = acceptRetry, LoopInstant.now >= retry {
            acceptRetry = nil
            try selector.register(listener, events: .read, trigger: .edge) { fd, _ in acceptAll(fd) }
        }
    }
} catch {
    fail("\(error)")
}
