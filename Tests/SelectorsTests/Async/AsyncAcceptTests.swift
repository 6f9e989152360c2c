import CSelectors
import Selectors
import Testing

/// `for try await connection in listener.connections(on: loop)` with real clients over TCP and
/// Unix-domain sockets, on every backend: several clients served at once, the sequence ending
/// when the listener or the loop closes.
@Suite(.timeLimit(.minutes(2)), .aheadOfBlockingTests)
struct AsyncAcceptTests {
    enum Where: String, CaseIterable, CustomStringConvertible {
        /// The accepting task prefers the loop.
        case onLoop
        /// The accepting task runs elsewhere (each `next()` hops to the loop and back).
        case elsewhere
        var description: String { rawValue }
    }

    /// A transport, and where the accepting task runs.
    struct Setup: CustomStringConvertible, Sendable {
        let transport: Transport
        let from: Where
        var description: String { "\(transport), accepting \(from)" }
        static let all = Transport.allCases.flatMap { transport in
            Where.allCases.map { Setup(transport: transport, from: $0) }
        }
    }

    /// Eight clients connect; each is served (an echo) by a task of its own on the loop; then
    /// the listener closes and the accepting loop ends, having accepted all eight.
    @Test(arguments: Backend.available, Setup.all)
    func severalClientsAreServedUntilTheListenerCloses(backend: Backend, setup: Setup) async throws {
        let (transport, from) = (setup.transport, setup.from)
        try await withLoopThread(backend) { thread in
            let loop = thread.loop
            let (listener, path) = try makeListener(transport)
            defer { if let path { removeSocketFile(path) } }
            let pool = try await makePool(loop)
            let accepting = Task(executorPreference: from == .onLoop ? loop : nil) { () -> [Bool] in
                var served: [Task<Int, any Error>] = []
                var onTheirLoop: [Bool] = []
                for try await connection in listener.connections(on: loop, using: pool) {
                    onTheirLoop.append(connection.loop === loop)
                    served.append(Task(executorPreference: loop) { try await echo(connection) })
                }
                for task in served { _ = try await task.value }
                return onTheirLoop
            }
            let clients = try await within { () -> Int in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<8 {
                        group.addTask {
                            let (fd, _) = try Socket.connect(to: listener.address, nonBlocking: false)
                            defer { Socket.close(fd) }
                            try Socket.setNonBlocking(fd)
                            let message = patternBytes(1_000 + index * 30_000, seed: index)
                            async let sent: Void = Peer.write(fd, message)
                            let echoed = try await Peer.read(fd, count: message.count)
                            try await sent
                            #expect(sameBytes(echoed, message), "client \(index)")
                            try Socket.shutdownWrite(fd)
                            #expect(try await Peer.readToEnd(fd) == ([], false), "client \(index)")
                        }
                    }
                    try await group.waitForAll()
                    return 8
                }
            }
            #expect(clients == 8)
            listener.close()
            let accepted = try await finish(accepting)
            #expect(accepted == Array(repeating: true, count: 8))
            #expect(pool.counters.snapshot.adopted == 8)
        }
    }

    /// An accepting loop waiting for a client ends (`nil`) when its loop closes, and one
    /// started on a closed loop or a closed listener ends at once.
    @Test(arguments: Backend.available, Where.allCases)
    func acceptingEndsWhenTheLoopCloses(backend: Backend, from: Where) async throws {
        let thread = try EventLoopThread(name: "accepting", backend: backend)
        let loop = thread.loop
        let listener = try Listener(address: .ipv4Loopback(port: 0))
        defer { listener.close() }
        let accepting = Task(executorPreference: from == .onLoop ? loop : nil) { () -> Int in
            var count = 0
            for try await connection in listener.connections(on: loop) {
                count += 1
                connection.close()
            }
            return count
        }
        try await until("the accepting task waiting") { try await readinessWaiterCount(loop) == 1 }
        thread.shutdown()
        #expect(try await finish(accepting) == 0)
        // On the closed loop: nothing to accept, at once.
        let again = Task { () -> Int in
            var count = 0
            for try await _ in listener.connections(on: loop) { count += 1 }
            return count
        }
        #expect(try await finish(again) == 0)
        // On a closed listener: the same.
        let other = try EventLoopThread(name: "other", backend: backend)
        defer { other.shutdown() }
        listener.close()
        let closedListener = Task(executorPreference: other.loop) { () -> Int in
            var count = 0
            for try await _ in listener.connections(on: other.loop) { count += 1 }
            return count
        }
        #expect(try await finish(closedListener) == 0)
    }

    /// Cancelling a task waiting for a client ends it with `CancellationError`; a new
    /// accepting task on the same loop then accepts (no waiter was left behind).
    @Test(arguments: Backend.available, Where.allCases)
    func cancellingTheAcceptingTaskLeavesTheListenerUsable(backend: Backend, from: Where) async throws {
        try await withLoopThread(backend) { thread in
            let loop = thread.loop
            let listener = try Listener(address: .ipv4Loopback(port: 0))
            defer { listener.close() }
            let waiting = Task(executorPreference: from == .onLoop ? loop : nil) {
                for try await connection in listener.connections(on: loop) { connection.close() }
            }
            try await until("the accepting task waiting") { try await readinessWaiterCount(loop) == 1 }
            waiting.cancel()
            #expect(wasCancelled(await outcome(of: waiting)))
            #expect(try await readinessWaiterCount(loop) == 0)
            let next = Task(executorPreference: from == .onLoop ? loop : nil) { () -> [UInt8] in
                for try await connection in listener.connections(on: loop) {
                    defer { connection.close() }
                    return try await connection.read(upTo: 100)
                }
                return []
            }
            let (fd, _) = try Socket.connect(to: listener.address, nonBlocking: false)
            defer { Socket.close(fd) }
            try Socket.setNonBlocking(fd)
            try await Peer.write(fd, "hello")
            #expect(try await finish(next) == Array("hello".utf8))
        }
    }

    /// One listener, two loops each accepting with its own task: every client is served by
    /// one of them, and closing the listener ends both.
    @Test(arguments: Backend.available)
    func twoLoopsShareOneListener(backend: Backend) async throws {
        try await withLoopThread(backend, name: "first") { first in
            try await withLoopThread(backend, name: "second") { second in
                let listener = try Listener(address: .ipv4Loopback(port: 0))
                let acceptors = ([first.loop, second.loop] as [EventLoop]).map { loop in
                    Task(executorPreference: loop) { () -> Int in
                        var count = 0
                        for try await connection in listener.connections(on: loop) {
                            count += 1
                            Task(executorPreference: loop) { try await echo(connection) }
                        }
                        return count
                    }
                }
                for index in 0..<12 {
                    let (fd, _) = try Socket.connect(to: listener.address, nonBlocking: false)
                    defer { Socket.close(fd) }
                    try Socket.setNonBlocking(fd)
                    try await Peer.write(fd, "client \(index)\n")
                    #expect(
                        try await Peer.read(fd, count: "client \(index)\n".utf8.count)
                            == Array("client \(index)\n".utf8))
                }
                listener.close()
                var total = 0
                for acceptor in acceptors { total += try await finish(acceptor) }
                #expect(total == 12)
            }
        }
    }
}

/// A listener for `transport`: TCP on 127.0.0.1, or a Unix-domain socket in a new directory
/// under /tmp (its path returned, for `removeSocketFile`).
private func makeListener(_ transport: Transport) throws -> (Listener, String?) {
    switch transport {
    case .tcp:
        return (try Listener(address: .ipv4Loopback(port: 0)), nil)
    case .unix:
        var template = Array("/tmp/selectors-accept-XXXXXX".utf8CString)
        guard let directory = mkdtemp(&template) else { throw Errno(rawValue: cselectors_errno()) }
        let path = String(cString: directory) + "/socket"
        var options = Listener.Options()
        options.removingStaleSocketFile = true
        return (try Listener(address: try SocketAddress(unixPath: path), options: options), path)
    }
}

/// Removes a socket file `makeListener` made, and its directory.
private func removeSocketFile(_ path: String) {
    _ = unlink(path)
    _ = rmdir(String(path.dropLast("/socket".count)))
}
