import CSelectors
import EchoService
import Selectors
import Synchronization
import Testing

/// `selector-bench --target` against servers in this process. In the serialized process
/// suite, since each test spawns the benchmark as a child.
extension EchoServerProcessTests {
    /// Guards against a short run missing a hung server: with every 50th connection
    /// swallowed, `--quick` used to exit 0 with no error, because its runs (0.08 s) end
    /// before the per-operation timeout (0.5 s) can see the hang.
    @Test func aQuickRunFailsAgainstAServerThatSwallowsEveryFiftiethConnection() throws {
        let server = try SwallowingEchoServer(swallowEvery: 50)
        defer { server.stop() }
        let (status, output, errors) = try runBenchmark(
            ["--quick", "--scenario", "conn", "--repeat", "1"], target: server.address)
        #expect(status == 1, "stdout: \(output) stderr: \(errors)")
        #expect(errors.contains("stalled"), "stderr: \(errors)")
        #expect(server.swallowed > 0)
    }

    /// The other side: nothing outstanding at the end of a run against a healthy server.
    @Test func aQuickRunPassesAgainstAHealthyServer() throws {
        let server = try startServer(.default)
        defer { server.stop() }
        let (status, output, errors) = try runBenchmark(
            ["--quick", "--scenario", "conn,rr,stream", "--repeat", "1"], target: server.address)
        #expect(status == 0, "stdout: \(output) stderr: \(errors)")
        #expect(!output.contains("stalled") && !errors.contains("stalled"))
    }

    /// A message larger than the sockets' buffers hold (16 MiB, the largest --size): the client
    /// used to send all of it before reading any echo, while the server, its output full,
    /// stopped reading; nothing moved until the operation timed out, on every target alike.
    @Test func messagesLargerThanTheSocketBuffersComeBack() throws {
        let server = try startServer(.default)
        defer { server.stop() }
        let (status, output, errors) = try runBenchmark(
            [
                "--scenario", "conn,rr", "--repeat", "1", "--duration", "0.5", "--warmup", "0",
                "--connections", "2", "--size", "16777216",
            ], target: server.address)
        #expect(status == 0, "stdout: \(output) stderr: \(errors)")
        #expect(!errors.contains("timeout") && !errors.contains("stalled"), "stderr: \(errors)")
    }

    /// Bad values are refused in one line with status 2: a port no server can listen on, a
    /// value holding a newline or 100 KB, which the message shows escaped and cut short, and
    /// numbers written other than as plain decimals.
    @Test func badTargetsAndOddValuesAreRefusedInOneLine() throws {
        for arguments in [
            ["--target", "127.0.0.1:0"], ["--target", "[::1]:0"], ["--duration", "5\n"],
            ["--scenario", "rr\nconn"], ["--target", String(repeating: "9", count: 100_000)],
            ["--" + String(repeating: "x", count: 100_000)],
            // `Double` and `Int` read these; they used to be taken (0x10: a 16-second run).
            ["--duration", "0x10"], ["--duration", "1e3"], ["--duration", "+5"], ["--repeat", "+3"],
        ] {
            let (status, output, errors) = try runSelectorBench(arguments)
            #expect(status == 2, "\(arguments.map { $0.prefix(40) })")
            let lines = errors.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(
                lines.count == 2 && lines[1].isEmpty && lines[0].hasPrefix("selector-bench: ")
                    && lines[0].count < 300, "\(errors.prefix(400))")
            #expect(output.isEmpty)
        }
    }

    private func runBenchmark(_ arguments: [String], target: SocketAddress) throws -> (Int32?, String, String)
    {
        try runSelectorBench(arguments + ["--target", "\(target)"])
    }
}

/// A loopback echo server that accepts every connection but holds every `swallowEvery`-th
/// one open without ever reading from it or answering: a server that hangs on some requests.
final class SwallowingEchoServer: Sendable {
    let address: SocketAddress
    private let thread: EventLoopThread
    private let swallower: LoopBound<Swallower>
    private let counter = SwallowCounter()

    /// How many connections were swallowed so far.
    var swallowed: Int { counter.count.load(ordering: .relaxed) }

    init(swallowEvery: Int) throws {
        let (listener, address) = try Socket.makeListener(address: .ipv4Loopback(port: 0), nonBlocking: true)
        self.address = address
        let counter = self.counter
        let made = Locked<LoopBound<Swallower>?>(nil)
        thread = try EventLoopThread(name: "swallowing") { io in
            let swallower = Swallower(
                io: io, listener: listener, swallowEvery: swallowEvery, counter: counter)
            try io.register(listener, events: .read) { _, _ in swallower.acceptAll() }
            made.withLock { $0 = LoopBound(swallower, on: io.eventLoop) }
        }
        swallower = made.withLock { $0! }
    }

    /// Closes everything on the loop's thread, stops the loop and joins its thread.
    func stop() {
        let swallower = self.swallower
        try? thread.loop.execute { swallower.value.closeAllAndStop() }
        try? thread.join()  // never the loop's own thread: a test calls it
    }
}

private final class SwallowCounter: Sendable {
    let count = Atomic<Int>(0)
}

/// The server's state, on its loop's thread.
private final class Swallower {
    let io: IsolatedEventLoop
    let listener: Int32
    let swallowEvery: Int
    let counter: SwallowCounter
    var accepted = 0
    var held: [Int32] = []
    var open: Set<Int32> = []

    init(io: IsolatedEventLoop, listener: Int32, swallowEvery: Int, counter: SwallowCounter) {
        self.io = io
        self.listener = listener
        self.swallowEvery = swallowEvery
        self.counter = counter
    }

    func acceptAll() {
        while let fd = try? Socket.accept(listener) {
            accepted += 1
            if accepted % swallowEvery == 0 {
                held.append(fd)
                counter.count.wrappingAdd(1, ordering: .relaxed)
                continue
            }
            do {
                try io.register(fd, events: .read) { [unowned self] fd, _ in self.echo(fd) }
                open.insert(fd)
            } catch {
                Socket.close(fd)
            }
        }
    }

    /// Echoes what is there; the benchmark's messages are small, so a write takes them whole.
    private func echo(_ fd: Int32) {
        let buffer = io.readBuffer
        guard let count = try? Socket.read(fd, into: buffer) else { return }
        if count > 0,
            (try? Socket.write(fd, from: UnsafeRawBufferPointer(rebasing: buffer[..<count]))) != nil
        {
            return
        }
        _ = try? io.unregister(fd)
        open.remove(fd)
        Socket.close(fd)
    }

    func closeAllAndStop() {
        for fd in open { _ = try? io.unregister(fd) }
        _ = try? io.unregister(listener)
        for fd in held + Array(open) { Socket.close(fd) }
        Socket.close(listener)
        held = []
        open = []
        io.stop()
    }
}
