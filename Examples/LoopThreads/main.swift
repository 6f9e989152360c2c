import Glibc  // exit, write (import Darwin on macOS)
import Selectors

// Loops on threads of their own: one `EventLoopThread`, and an `EventLoopGroup` whose loops
// share one `Listener`. `swift run loop-threads` starts both, connects a client, and shuts
// everything down. A failure (no descriptors left, say) is told in one line, exit status 1.
do {
    let thread = try EventLoopThread(name: "io") { io in
        // Set-up, on the new thread before its loop runs: register fds, schedule timers.
        io.execute { print("set up on the io thread") }
    }
    try thread.loop.execute { print("a task on the io thread") }  // from any thread

    let listener = try Listener(address: .ipv4Loopback(port: 0))  // port 0: any free port
    let group = try EventLoopGroup(threads: 2, name: "worker") { index, io in
        // On each worker's own thread: accept from the shared socket, answer, close.
        try listener.accept(on: io) { event in
            guard case .accepted(let fd) = event else { return }  // or .paused / .resumed
            let reply = Array("hello from worker \(index)\n".utf8)
            _ = try? reply.withUnsafeBytes { try Socket.write(fd, from: $0) }  // small: one write
            Socket.close(fd)
        }
    }

    // A blocking client on the main thread: read the reply until the server closes. Its waits
    // are bounded: a server out of descriptors cannot accept, and would never answer.
    let client = try Socket.connect(to: listener.address, timeout: .seconds(5))
    try Socket.setReceiveTimeout(client, .seconds(5))  // then a read returns nil
    var reply: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 256)
    while true {
        guard let count = try chunk.withUnsafeMutableBytes({ try Socket.read(client, into: $0) }) else {
            throw Errno.timedOut
        }
        if count == 0 { break }  // the server closed
        reply += chunk[..<count]
    }
    Socket.close(client)
    print(String(decoding: reply, as: UTF8.self), terminator: "")

    listener.close()  // every loop stops watching it; then the socket closes
    group.shutdown()  // stop every loop, wait for every thread
    thread.shutdown()
} catch {
    let line = "loop-threads: \(error)\n"
    _ = write(2, line, line.utf8.count)
    exit(1)
}
