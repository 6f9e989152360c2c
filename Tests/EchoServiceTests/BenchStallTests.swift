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
            ["--quick", "--scenario", "conn"], target: server.address)
        #expect(status == 1, "stdout: \(output) stderr: \(errors)")
        #expect(errors.contains("stalled"), "stderr: \(errors)")
        #expect(server.swallowed > 0)
    }

    /// The other side: nothing outstanding at the end of a run against a healthy server.
    @Test func aQuickRunPassesAgainstAHealthyServer() throws {
        let server = try startServer(.default)
        defer { server.stop() }
        let (status, output, errors) = try runBenchmark(
            ["--quick", "--scenario", "conn,rr,stream"], target: server.address)
        #expect(status == 0, "stdout: \(output) stderr: \(errors)")
        #expect(!output.contains("stalled") && !errors.contains("stalled"))
    }

    private func runBenchmark(_ arguments: [String], target: SocketAddress) throws -> (Int32?, String, String)
    {
        let executable = try builtExecutable("selector-bench")
        let child = try ChildProcess(
            path: executable, arguments: [executable] + arguments + ["--target", "\(target)"])
        let status = child.waitForExit(timeout: 60)
        return (status.flatMap(ChildProcess.exitCode), child.stdoutText, child.stderrText)
    }
}

/// A loopback echo server that accepts every connection but holds every `swallowEvery`-th
/// one open without ever reading from it or answering: a server that hangs on some requests.
final class SwallowingEchoServer: @unchecked Sendable {
    // @unchecked: the loop's state is touched only on its thread once `run` started (and by
    // `stop` after joining it); `swallowedCount` is atomic.
    let address: SocketAddress
    private let loop: EventLoop
    private let listener: Int32
    private let swallowEvery: Int
    private var accepted = 0
    private var held: [Int32] = []
    private var open: Set<Int32> = []
    private let swallowedCount = Atomic<Int>(0)
    private var thread: TestThread?

    /// How many connections were swallowed so far.
    var swallowed: Int { swallowedCount.load(ordering: .relaxed) }

    init(swallowEvery: Int) throws {
        self.swallowEvery = swallowEvery
        loop = try EventLoop()
        (listener, address) = try Socket.makeListener(address: .ipv4Loopback(port: 0), nonBlocking: true)
        try loop.register(listener, events: .read) { [unowned self] _, _ in self.acceptAll() }
        let loop = self.loop
        thread = TestThread { try? loop.run() }
    }

    private func acceptAll() {
        while let fd = try? Socket.accept(listener) {
            accepted += 1
            if accepted % swallowEvery == 0 {
                held.append(fd)
                swallowedCount.wrappingAdd(1, ordering: .relaxed)
                continue
            }
            do {
                try loop.register(fd, events: .read) { [unowned self] fd, _ in self.echo(fd) }
                open.insert(fd)
            } catch {
                Socket.close(fd)
            }
        }
    }

    /// Echoes what is there; the benchmark's messages are small, so a write takes them whole.
    private func echo(_ fd: Int32) {
        let buffer = loop.readBuffer
        guard let count = try? Socket.read(fd, into: buffer) else { return }
        if count > 0,
            (try? Socket.write(fd, from: UnsafeRawBufferPointer(rebasing: buffer[..<count]))) != nil
        {
            return
        }
        _ = try? loop.unregister(fd)
        open.remove(fd)
        Socket.close(fd)
    }

    /// Stops the loop, joins its thread and closes everything.
    func stop() {
        loop.stop()
        thread?.join()
        thread = nil
        for fd in held + Array(open) { Socket.close(fd) }
        held = []
        open = []
        Socket.close(listener)
        loop.close()
    }
}
