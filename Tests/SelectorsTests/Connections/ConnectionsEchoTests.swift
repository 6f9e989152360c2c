import CSelectors
import Selectors
import Testing

/// Megabytes through a `Connections` echo, pipelined (the peer writes far ahead of what came
/// back), on every backend in both trigger modes: each byte arrives exactly once, in order,
/// and the backpressure (reading paused while the echo's queue is full) keeps it bounded.
@Suite struct ConnectionsEchoTests {
    static let total = 4 * 1024 * 1024

    /// Echoes `total` bytes from `peerFD` through a connection adopted on `serverFD`, then has
    /// the peer end its side and checks how the connection ended and what it counted.
    private func echo(
        serverFD: Int32, peerFD: Int32, fds: OpenDescriptors, backend: Backend, trigger: Trigger
    )
        throws
    {
        let options = connectionOptions(trigger) { $0.highWaterMark = 128 * 1024 }
        try withConnections(backend: backend, options: options) { loop, connections, log in
            log.keepsBytes = false
            log.reaction = { connection, event in
                if case .received(let bytes) = event { try? connection.write(bytes) }
            }
            let connection = try fds.handOver(serverFD, to: connections)
            let peer = PatternPeer(fd: peerFD, total: Self.total)
            try runOnceUntil(loop, limit: .seconds(60)) {
                peer.pump()
                return peer.isDone
            }
            #expect(peer.mismatch == nil, "\(peer.mismatch ?? "")")
            #expect(peer.error == nil)
            #expect(!peer.endOfFile)
            #expect(peer.sent == Self.total)
            #expect(peer.received == Self.total)
            #expect(log.receivedCount(of: connection) == Self.total)

            // The peer ends its side: the connection, with nothing left to write, closes.
            #expect(shutdown(peerFD, Int32(SHUT_WR)) == 0)
            try runOnceUntil(loop) { log.end(of: connection) != nil }
            #expect(log.notices(of: connection).suffix(2) == [.endOfInput, .closed(.peerClosed)])
            #expect(log.violations.isEmpty, "\(log.violations)")
            try settleClosedDescriptors(loop)
            #expect(readOnceWhenReady(peerFD) == .endOfFile)

            let statistics = connections.counters.snapshot
            #expect(statistics.adopted == 1)
            #expect(statistics.open == 0)
            #expect(statistics.bytesReceived == UInt64(Self.total))
            #expect(statistics.bytesSent == UInt64(Self.total))
            #expect(statistics.pendingBytes == 0)
            #expect(statistics.outputBufferBytes == 0)
            #expect(statistics.peerClosed == 1)
            #expect(statistics.resetsSent == 0)
            // The queue never held more than the high-water mark plus one read.
            #expect(statistics.peakPendingBytes <= options.highWaterMark + 64 * 1024)
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func fourMegabytesPipelinedThroughASocketPairComeBackOnceInOrder(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try echo(serverFD: server, peerFD: peer, fds: fds, backend: backend, trigger: trigger)
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func fourMegabytesPipelinedThroughLoopbackTCPComeBackOnceInOrder(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let (client, server) = try fds.tcpLoopbackPair()
            try echo(serverFD: server, peerFD: client, fds: fds, backend: backend, trigger: trigger)
        }
    }

    /// A Unix socket pair has a small buffer on the connection's side: most of each echo is
    /// queued, and the slow peer (it reads 4 KiB per iteration) decides the pace.
    @Test(arguments: Backend.available, connectionTriggers)
    func aPeerThatReadsSlowlyStillGetsEveryByteInOrder(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peerFD) = try fds.socketPair()
            try fds.shrinkSendBuffer(server)
            let total = 512 * 1024
            let options = connectionOptions(trigger) {
                $0.highWaterMark = 32 * 1024
                $0.lowWaterMark = 8 * 1024
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                log.keepsBytes = false
                log.reaction = { connection, event in
                    if case .received(let bytes) = event { try? connection.write(bytes) }
                }
                let connection = try fds.handOver(server, to: connections)
                var sent = 0
                var received: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                try runOnceUntil(loop, limit: .seconds(60)) {
                    if sent < total {
                        let chunk = patternBytes(from: sent, count: min(64 * 1024, total - sent))
                        let written = chunk.withUnsafeBytes {
                            CSelectors.write(peerFD, $0.baseAddress, $0.count)
                        }
                        if written > 0 { sent += written }
                    }
                    let count = buffer.withUnsafeMutableBytes {
                        CSelectors.read(peerFD, $0.baseAddress, $0.count)
                    }
                    if count > 0 { received += buffer[..<count] }
                    return received.count >= total
                }
                #expect(sameBytes(received, patternBytes(from: 0, count: total)))
                let notices = log.notices(of: connection)
                #expect(notices.contains(.outputFull), "the slow peer filled the queue")
                #expect(connections.counters.snapshot.readPauses > 0)
                // Fulls and drains alternate, starting with a full.
                let marks = notices.filter { $0 == .outputFull || $0 == .outputDrained }
                for (index, mark) in marks.enumerated() {
                    #expect(mark == (index % 2 == 0 ? .outputFull : .outputDrained), "\(marks)")
                }
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }
}
