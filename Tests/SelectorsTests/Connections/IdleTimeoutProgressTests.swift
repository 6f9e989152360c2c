import CSelectors
import Selectors
import Testing

/// What counts as progress for the idle timeout: a connection the server itself keeps from
/// reading (the shared budget, `pauseReading()`) does not age, and a peer reading a large
/// queue steadily is progress even when the kernel reports the socket writable only far
/// apart. A client that never reads is still sent away, budget or not.
@Suite(
    .timeLimit(.minutes(5)),
    .disabled(
        if: runsUnderThreadSanitizer,
        "single-threaded loop tests, covered by the plain run: under ThreadSanitizer their timed peers, on two cores, starved other suites past their limits"
    ))
struct IdleTimeoutProgressTests {
    /// A client that keeps sending, on a connection the budget paused because of another
    /// connection's queue, makes no progress only because the server stopped reading it.
    @Test(arguments: Backend.available, connectionTriggers)
    func readingStoppedByTheBudgetDoesNotCountAsIdleness(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (hogPeer, hogServer) = try fds.tcpLoopbackPair()
            // A small send buffer: each read by the peer makes room at once, so the hog is
            // written (progress) every few milliseconds.
            try fds.shrinkSendBuffer(hogServer)
            let (victimServer, victimPeer) = try fds.socketPair()
            let budget = try OutputBudget(high: 256 * 1024, low: 64 * 1024)
            let options = connectionOptions(trigger) {
                $0.budget = budget
                $0.highWaterMark = 64 * 1024 * 1024
                $0.idleTimeout = .milliseconds(100)
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let hog = try fds.handOver(hogServer, to: connections)
                let victim = try fds.handOver(victimServer, to: connections)
                // A big queue its peer reads slowly: progress all the time, over the budget
                // all the time.
                try hog.write([UInt8](repeating: 0x41, count: 48 * 1024 * 1024))
                #expect(budget.bufferBytes > 256 * 1024)
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                let start = LoopInstant.now
                while LoopInstant.now < start.advanced(by: .milliseconds(600)), log.end(of: victim) == nil {
                    _ = buffer.withUnsafeMutableBytes { CSelectors.read(hogPeer, $0.baseAddress, $0.count) }
                    _ = send(victimPeer, "x", 1, Int32(MSG_NOSIGNAL))
                    try loop.runOnce(timeout: .milliseconds(2))
                }
                #expect(log.end(of: hog) == nil, "the hog made progress all along")
                #expect(budget.bufferBytes > 256 * 1024, "still over the budget")
                #expect(log.end(of: victim) == nil, "the victim's peer was sending all along")
            }
        }
    }

    /// The budget does not shelter the connections that hold it: a client that never reads,
    /// paused by the budget its own queue keeps over the mark, is still closed as idle (with
    /// a reset: its queue is lost), and its buffer is freed.
    @Test(arguments: Backend.available, connectionTriggers)
    func aNeverReaderPausedByTheBudgetIsStillClosedAsIdle(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try fds.shrinkSendBuffer(server)
            let budget = try OutputBudget(high: 256 * 1024, low: 64 * 1024)
            let options = connectionOptions(trigger) {
                $0.budget = budget
                $0.highWaterMark = 64 * 1024 * 1024
                $0.idleTimeout = .milliseconds(100)
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try connection.write([UInt8](repeating: 0x41, count: 1024 * 1024))
                #expect(budget.bufferBytes > 256 * 1024)
                // Input the connection will not read while the budget is over: it is paused.
                try writeAll(peer, "hello?")
                try runOnceUntil(loop, limit: .seconds(5)) { log.end(of: connection) != nil }
                #expect(log.end(of: connection) == .idle)
                #expect(connections.counters.snapshot.resetsSent == 1)
                #expect(budget.bufferBytes == 0)
            }
        }
    }

    /// An owner that pauses reading (waiting on a backend, say) holds the connection itself:
    /// while paused with nothing queued it does not age, and its clock starts again when
    /// reading resumes.
    @Test(arguments: Backend.available, connectionTriggers)
    func readingPausedByTheOwnerDoesNotCountAsIdleness(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            let timeout = Duration.milliseconds(100)
            let options = connectionOptions(trigger) { $0.idleTimeout = timeout }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                connection.pauseReading()
                try writeAll(peer, "request")
                var closedAt: LoopInstant?
                log.reaction = { _, event in
                    if case .closed = event { closedAt = LoopInstant.now }
                }
                let start = LoopInstant.now
                try runOnceUntil(loop, step: .milliseconds(5)) {
                    closedAt != nil || start.duration(to: .now) >= timeout * 5
                }
                #expect(closedAt == nil, "closed as idle while the owner held it")
                connection.resumeReading()
                let resumed = LoopInstant.now
                try runOnceUntil(loop, limit: .seconds(5)) { closedAt != nil }
                #expect(log.end(of: connection) == .idle)
                #expect(log.receivedCount(of: connection) == 7)
                if let closedAt {
                    let idleFor = resumed.duration(to: closedAt)
                    #expect(idleFor >= timeout, "closed \(idleFor) after reading resumed")
                }
            }
        }
    }

    /// A TCP connection with a large queue whose peer reads steadily (here ~4 MB/s) is written
    /// only when the kernel reports it writable, which with the default, autotuned send buffer
    /// comes once a large part of that buffer has drained: far apart, maybe further than the
    /// timeout. The transfer never stops, so the connection is not idle.
    @Test(arguments: Backend.available, connectionTriggers)
    func aPeerReadingALargeQueueSteadilyKeepsItsConnectionFromBeingIdle(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let (peer, server) = try fds.tcpLoopbackPair()
            let options = connectionOptions(trigger) {
                $0.highWaterMark = 64 * 1024 * 1024
                $0.idleTimeout = .milliseconds(100)
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try connection.write([UInt8](repeating: 0x41, count: 16 * 1024 * 1024))
                var buffer = [UInt8](repeating: 0, count: 8 * 1024)
                var received = 0
                var lastGap = Duration.zero
                var lastRead = LoopInstant.now
                let start = LoopInstant.now
                while LoopInstant.now < start.advanced(by: .milliseconds(600)), log.end(of: connection) == nil
                {
                    let count = buffer.withUnsafeMutableBytes {
                        CSelectors.read(peer, $0.baseAddress, $0.count)
                    }
                    if count > 0 {
                        received += count
                        lastGap = max(lastGap, lastRead.duration(to: LoopInstant.now))
                        lastRead = LoopInstant.now
                    }
                    try loop.runOnce(timeout: .milliseconds(2))
                }
                #expect(
                    log.end(of: connection) == nil,
                    "the peer read \(received) bytes, at most \(lastGap) apart, yet: \(log.notices(of: connection))"
                )
            }
        }
    }
}
