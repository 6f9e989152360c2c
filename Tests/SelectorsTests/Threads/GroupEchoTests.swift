import CSelectors
import Selectors
import Synchronization
import Testing

/// The pieces together, as a server uses them: a `Listener` spread over an `EventLoopGroup`,
/// a `Connections` per loop echoing, and clients on threads of their own pipelining a
/// megabyte each. Every client gets its bytes back once, in order; the loops' counters add up.
@Suite struct GroupEchoTests {
    @Test(arguments: Backend.available, connectionTriggers)
    func clientsOnSeveralThreadsGetTheirBytesBackThroughAGroupOfLoops(backend: Backend, trigger: Trigger)
        throws
    {
        let listener = try Listener(address: .ipv4Loopback(port: 0))
        let counters = Shared<[ConnectionCounters]>([])
        let options = connectionOptions(trigger) {
            $0.highWaterMark = 64 * 1024
            $0.lowWaterMark = 16 * 1024
        }
        let group = try EventLoopGroup(threads: 2, name: uniqueThreadName("echo-"), backend: backend) {
            _, io in
            let connections = try Connections(loop: io, options: options) { connection, event in
                if case .received(let bytes) = event { try? connection.write(bytes) }
            }
            counters.withLock { $0.append(connections.counters) }
            try listener.accept(on: io) { event in
                if case .accepted(let fd) = event, (try? connections.adopt(fd)) == nil { Socket.close(fd) }
            }
        }
        defer {
            listener.close()
            group.shutdown()
        }
        let clients = 4
        let total = 1024 * 1024
        let outcomes = Shared<[String]>([])
        withThreads(clients) { _ in
            outcomes.withLock { $0.append(Self.runClient(listener.address, total: total)) }
        } whileRunning: {
        }
        #expect(outcomes.value == Array(repeating: "ok", count: clients))

        // Each client ended its side after its echo: every connection closes by itself.
        // `ConnectionStatistics` has no public initializer, so the total starts from the
        // first loop's snapshot.
        func totals() -> ConnectionStatistics? {
            let snapshots = counters.value.map(\.snapshot)
            guard var total = snapshots.first else { return nil }
            for snapshot in snapshots.dropFirst() { total.add(snapshot) }
            return total
        }
        eventually { totals()?.peerClosed == clients }
        let statistics = try #require(totals())
        #expect(statistics.adopted == clients)
        #expect(statistics.open == 0)
        #expect(statistics.bytesReceived == UInt64(clients * total))
        #expect(statistics.bytesSent == UInt64(clients * total))
        #expect(statistics.resetsSent == 0)
    }

    /// One client: connects, pipelines `total` pattern bytes while reading the echo, checks
    /// it, ends its side and waits for the server's end. Returns "ok" or what went wrong.
    private static func runClient(_ address: SocketAddress, total: Int) -> String {
        let fd: Int32
        do {
            fd = try Socket.connect(to: address).fd
            try Socket.setNonBlocking(fd)
        } catch {
            return "connect: \(error)"
        }
        defer { Socket.close(fd) }
        let peer = PatternPeer(fd: fd, total: total)
        let deadline = LoopInstant.now.advanced(by: .seconds(60))
        while !peer.isDone {
            guard LoopInstant.now < deadline else { return "timed out at \(peer.received) of \(total)" }
            let events = peer.sent < total ? Int32(POLLIN | POLLOUT) : Int32(POLLIN)
            _ = waitFor(fd, events, milliseconds: 100)
            peer.pump()
        }
        if let mismatch = peer.mismatch { return mismatch }
        if let error = peer.error { return "\(error)" }
        guard peer.received == total else { return "got \(peer.received) of \(total), then end of file" }
        guard shutdown(fd, Int32(SHUT_WR)) == 0, waitFor(fd, milliseconds: 10_000) else { return "no end" }
        return readOnceWhenReady(fd) == .endOfFile ? "ok" : "no orderly end"
    }
}
