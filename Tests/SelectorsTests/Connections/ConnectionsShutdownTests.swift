import CSelectors
import Selectors
import Testing

/// Ending many connections at once (`drain`, `closeAll`), the shared `OutputBudget`, the
/// counters, and what a `Connections` does when its loop or its owner goes away.
@Suite struct ConnectionsShutdownTests {
    // MARK: drain

    @Test(arguments: Backend.available, connectionTriggers)
    func drainClosesAnIdleConnectionAtOnceAndABusyOneAfterItsPeerHasEverything(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            let (idleClient, idleServer) = try fds.tcpLoopbackPair()
            let (busyClient, busyServer) = try fds.tcpLoopbackPair()
            try fds.shrinkSendBuffer(busyServer)
            let total = 512 * 1024
            let options = connectionOptions(trigger) { $0.highWaterMark = 2 * total }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let idle = try fds.handOver(idleServer, to: connections)
                let busy = try fds.handOver(busyServer, to: connections)
                try busy.write(patternBytes(from: 0, count: total))
                var doneCalls = 0
                connections.drain(until: loop.now.advanced(by: .seconds(30))) { doneCalls += 1 }
                #expect(connections.isDraining)
                #expect(log.end(of: idle) == .closed, "nothing in flight: closed at once")
                #expect(readOnceWhenReady(idleClient) == .endOfFile)
                #expect(busy.isOpen)
                #expect(doneCalls == 0)
                // Its queue is still being written, so it still takes bytes; they go out
                // before the end of stream.
                try busy.write("more")

                // The busy peer reads everything, sees the end of stream, and closes its side.
                let (bytes, end) = try readToEnd(busyClient, running: loop)
                #expect(sameBytes(bytes, patternBytes(from: 0, count: total) + Array("more".utf8)))
                #expect(end == .endOfFile)
                #expect(shutdown(busyClient, Int32(SHUT_WR)) == 0)
                try runOnceUntil(loop) { doneCalls > 0 }
                #expect(log.notices(of: busy) == [.closed(.peerClosed)])
                #expect(connections.count == 0)
                for _ in 0..<3 { try loop.runOnce(timeout: .milliseconds(20)) }
                #expect(doneCalls == 1)
                #expect(connections.counters.snapshot.resetsSent == 0)

                // Calling it again does nothing.
                connections.drain(until: loop.now) { doneCalls += 1 }
                #expect(doneCalls == 1)
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func drainWithNothingOpenIsDoneAtOnce(backend: Backend, trigger: Trigger) throws {
        try withConnections(backend: backend, options: connectionOptions(trigger)) { loop, connections, _ in
            var doneCalls = 0
            connections.drain(until: loop.now.advanced(by: .seconds(5))) { doneCalls += 1 }
            #expect(doneCalls == 1)
            #expect(loop.pendingTimers == 0, "no deadline or ticker left behind")
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func drainAbortsWhatIsLeftAtTheDeadline(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (client, server) = try fds.tcpLoopbackPair()
            try fds.shrinkSendBuffer(server)
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try connection.write(patternBytes(from: 0, count: 1024 * 1024))
                var doneCalls = 0
                let deadline = loop.now.advanced(by: .milliseconds(100))
                connections.drain(until: deadline) { doneCalls += 1 }
                try runOnceUntil(loop) { doneCalls > 0 }
                #expect(LoopInstant.now >= deadline, "not before the deadline")
                #expect(log.notices(of: connection).last == .closed(.aborted))
                let (_, end) = try readToEnd(client, running: loop)
                #expect(end == .failed(.connectionReset), "data was lost: a reset")
                #expect(doneCalls == 1)
            }
        }
    }

    /// Input arriving during a drain is discarded, so the connection ends with a reset, but
    /// only once the peer has every byte written to it.
    @Test(arguments: Backend.available, connectionTriggers)
    func aPeerStillSendingDuringADrainGetsEverythingThenAReset(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (client, server) = try fds.tcpLoopbackPair()
            try fds.shrinkSendBuffer(server)
            let total = 256 * 1024
            let options = connectionOptions(trigger) { $0.highWaterMark = 2 * total }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(server, to: connections)
                try connection.write(patternBytes(from: 0, count: total))
                var doneCalls = 0
                connections.drain(until: loop.now.advanced(by: .seconds(30))) { doneCalls += 1 }
                try writeAll(client, "are you still there?")
                let reader = StreamReader(client)
                try runOnceUntil(loop) { reader.readAvailable() && doneCalls > 0 }
                #expect(
                    sameBytes(reader.bytes, patternBytes(from: 0, count: total)),
                    "nothing written was destroyed")
                #expect(reader.end == .failed(.connectionReset))
                #expect(log.notices(of: connection) == [.closed(.aborted)])
                #expect(log.receivedCount(of: connection) == 0, "input is not delivered while draining")
            }
        }
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func aConnectionAdoptedDuringADrainIsDrainedToo(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (busyClient, busyServer) = try fds.tcpLoopbackPair()
            let (lateClient, lateServer) = try fds.tcpLoopbackPair()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let busy = try fds.handOver(busyServer, to: connections)
                try fillUntilFull(busyServer)
                try busy.write("x")
                var doneCalls = 0
                connections.drain(until: loop.now.advanced(by: .seconds(30))) { doneCalls += 1 }
                let late = try fds.handOver(lateServer, to: connections)
                #expect(
                    readOnceWhenReady(lateClient) == .endOfFile, "the late one got its end of stream at once")
                #expect(shutdown(lateClient, Int32(SHUT_WR)) == 0)
                try runOnceUntil(loop) { log.end(of: late) != nil }
                #expect(log.notices(of: late) == [.closed(.peerClosed)])
                #expect(doneCalls == 0, "the busy one is still draining")
                _ = try readToEnd(busyClient, running: loop)
                #expect(shutdown(busyClient, Int32(SHUT_WR)) == 0)
                try runOnceUntil(loop) { doneCalls > 0 }
                #expect(log.end(of: busy) == .peerClosed)
            }
        }
    }

    /// A pipe adopted during a drain has no half-close, so draining it closes it at once: as
    /// for any call, its `.closed` comes at the next turn, not inside `adopt`, and the drain
    /// is not done while another connection is still draining.
    @Test(arguments: Backend.available, connectionTriggers)
    func aPipeAdoptedDuringADrainClosesWithoutEndingTheDrainEarly(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (busyClient, busyServer) = try fds.tcpLoopbackPair()
            let (pipeRead, pipeWrite) = try fds.pipe()
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let busy = try fds.handOver(busyServer, to: connections)
                try fillUntilFull(busyServer)
                try busy.write("x")
                var doneCalls = 0
                connections.drain(until: loop.now.advanced(by: .seconds(30))) { doneCalls += 1 }
                let piped = try log.calling { try fds.handOver(pipeWrite, to: connections) }
                #expect(doneCalls == 0, "the busy connection is still draining")
                #expect(connections.count == (piped.isOpen ? 2 : 1))
                try runOnceUntil(loop) { log.end(of: piped) != nil }
                #expect(log.notices(of: piped) == [.closed(.closed)])
                #expect(readOnceWhenReady(pipeRead) == .endOfFile)
                #expect(doneCalls == 0)
                #expect(busy.isOpen)
                _ = try readToEnd(busyClient, running: loop)
                #expect(shutdown(busyClient, Int32(SHUT_WR)) == 0)
                try runOnceUntil(loop) { doneCalls > 0 }
                #expect(doneCalls == 1)
                #expect(connections.count == 0)
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }

    // MARK: closeAll

    @Test(arguments: Backend.available, connectionTriggers)
    func closeAllEndsEveryConnectionBeforeReturningAndResetsTheOnesThatLoseData(
        backend: Backend, trigger: Trigger
    ) throws {
        try withDescriptors { fds in
            let (quietClient, quietServer) = try fds.tcpLoopbackPair()
            let (busyClient, busyServer) = try fds.tcpLoopbackPair()
            try fds.shrinkSendBuffer(busyServer)
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let quiet = try fds.handOver(quietServer, to: connections)
                let busy = try fds.handOver(busyServer, to: connections)
                try busy.write(patternBytes(from: 0, count: 512 * 1024))
                var visited: [Connection] = []
                connections.forEach { visited.append($0) }
                #expect(Set(visited) == [quiet, busy])
                #expect(visited.map(\.fd) == visited.map(\.fd).sorted(), "in fd order")

                connections.closeAll()
                #expect(log.notices(of: quiet) == [.closed(.aborted)])
                #expect(log.notices(of: busy) == [.closed(.aborted)])
                #expect(connections.count == 0)
                #expect(!quiet.isOpen && !busy.isOpen)
                let (quietBytes, quietEnd) = try readToEnd(quietClient, running: loop)
                #expect(quietBytes.isEmpty && quietEnd == .endOfFile, "nothing was lost: no reset")
                let (_, end) = try readToEnd(busyClient, running: loop)
                #expect(end == .failed(.connectionReset))
                let statistics = connections.counters.snapshot
                #expect(statistics.aborted == 2)
                #expect(statistics.resetsSent == 1)
                #expect(statistics.open == 0)
                #expect(statistics.pendingBytes == 0)
                #expect(statistics.outputBufferBytes == 0)
                var none = 0
                connections.forEach { _ in none += 1 }
                #expect(none == 0)
            }
        }
    }

    // MARK: The shared budget

    /// Two `Connections` on two loops share one budget: the queue of one passing the budget's
    /// high mark stops reading in the other, and its drain lets the other read again.
    @Test(arguments: Backend.available, connectionTriggers)
    func aBudgetOverItsHighMarkPausesReadingInEveryConnectionsSharingIt(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let (fullServer, fullPeer) = try fds.socketPair()
            let (quietServer, quietPeer) = try fds.socketPair()
            let budget = try OutputBudget(high: 64 * 1024, low: 16 * 1024)
            let options = connectionOptions(trigger) {
                $0.budget = budget
                $0.highWaterMark = 4 * 1024 * 1024
            }
            try withConnections(backend: backend, options: options) { fullLoop, fullSide, _ in
                try withConnections(backend: backend, options: options) { quietLoop, quietSide, quietLog in
                    let filling = try fds.handOver(fullServer, to: fullSide)
                    let quiet = try fds.handOver(quietServer, to: quietSide)
                    func turn() throws {
                        try fullLoop.runOnce(timeout: .milliseconds(2))
                        try quietLoop.runOnce(timeout: .milliseconds(2))
                    }
                    try filling.write(patternBytes(from: 0, count: 1024 * 1024))
                    #expect(budget.bufferBytes > 64 * 1024)
                    #expect(budget.readPauses == 1)

                    try writeAll(quietPeer, "hello")
                    for _ in 0..<10 { try turn() }
                    #expect(quietLog.receivedCount(of: quiet) == 0, "over budget: nobody reads")

                    let reader = StreamReader(fullPeer)
                    let deadline = LoopInstant.now.advanced(by: .seconds(10))
                    while quietLog.receivedCount(of: quiet) < 5 && LoopInstant.now < deadline {
                        _ = reader.readAvailable()
                        try turn()
                    }
                    #expect(
                        quietLog.bytes[quiet] == Array("hello".utf8),
                        "reading resumed once the budget drained")
                    #expect(budget.bufferBytes <= 16 * 1024)
                    #expect(budget.peakBufferBytes > 64 * 1024)
                    #expect(fullSide.counters.snapshot.readPauses == 0, "its own high mark was never passed")
                }
            }
        }
    }

    // MARK: Counters and options

    /// One `Connections` per loop: their snapshots add up to the server's totals.
    @Test(arguments: Backend.available)
    func statisticsOfSeveralConnectionsAddUp(backend: Backend) throws {
        try withDescriptors { fds in
            let (firstServer, firstPeer) = try fds.socketPair()
            let (secondServer, secondPeer) = try fds.socketPair()
            let (thirdServer, _) = try fds.socketPair()
            try fillUntilFull(thirdServer)
            try withConnections(backend: backend, options: connectionOptions(.level)) {
                loop, first, firstLog in
                try withConnections(backend: backend, options: connectionOptions(.level)) { _, second, _ in
                    let a = try fds.handOver(firstServer, to: first)
                    _ = try fds.handOver(secondServer, to: second)
                    let c = try fds.handOver(thirdServer, to: second)
                    try writeAll(firstPeer, "12345")
                    try runOnceUntil(loop) { firstLog.receivedCount(of: a) == 5 }
                    try a.write("abc")
                    try c.write("queued")
                    a.close()
                    fds.close(secondPeer)
                    var total = first.counters.snapshot
                    total.add(second.counters.snapshot)
                    #expect(total.adopted == 3)
                    #expect(total.open == 2)
                    #expect(total.bytesReceived == 5)
                    #expect(total.bytesSent == 3)
                    #expect(total.pendingBytes == 6)
                    #expect(total.peakPendingBytes == 6)
                    #expect(total.closed == 1)
                    #expect(total.outputBufferBytes > 0)
                }
            }
        }
    }

    @Test(arguments: Backend.available)
    func optionsOutOfRangeAreRefused(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        let invalid: [(String, (inout Connections.Options) -> Void)] = [
            ("high 0", { $0.highWaterMark = 0 }),
            ("high above 1 GiB", { $0.highWaterMark = (1 << 30) + 1 }),
            ("low at high", { $0.lowWaterMark = $0.highWaterMark }),
            ("low negative", { $0.lowWaterMark = -1 }),
            ("idle zero", { $0.idleTimeout = .zero }),
            ("one-shot", { $0.trigger = .oneShot }),
        ]
        for (name, adjust) in invalid {
            var options = Connections.Options()
            adjust(&options)
            let error = selectorError { try Connections(loop: loop, options: options) { _, _ in } }
            if case .invalidArgument = error?.reason {
            } else {
                Issue.record("\(name): \(String(describing: error))")
            }
        }
    }

    /// Guards against a refused configuration leaking the connection table (24 KiB): it was
    /// made before the options were checked, and only `deinit`, which a throwing init never
    /// reaches, frees it. Counted with glibc's `mallinfo2` (in-use heap bytes); the sanitizers
    /// replace malloc and report zeros there, so under them only their own leak check counts.
    @Test func refusedOptionsLeaveNoMemoryBehind() throws {
        let loop = try EventLoop(backend: .poll).assumeIsolated()
        defer { loop.close() }
        var options = Connections.Options()
        options.highWaterMark = 0
        func attempt() { _ = selectorError { try Connections(loop: loop, options: options) { _, _ in } } }
        attempt()
        // The heap is the process's: tests running beside this one allocate too. A leak grows
        // it by 24 MiB in every round, so the smallest growth of three rounds is the verdict.
        var growth: [Int] = []
        for _ in 0..<3 {
            let before = Int(mallinfo2().uordblks)
            for _ in 0..<1_000 { attempt() }
            growth.append(Int(mallinfo2().uordblks) - before)
        }
        // Error values and caches stay far below this.
        #expect(growth.min()! < 4 << 20, "the heap grew by \(growth) bytes per 1,000 refused configurations")
    }

    // MARK: Lifetime

    /// Closing its loop closes whatever is left: a `Connections` whose loop closed and whose
    /// owner let go closes its connections' fds and goes away. (It once kept itself alive for
    /// good, through the shared handler it stores.)
    @Test(arguments: Backend.available)
    func aConnectionsWhoseLoopClosedAndOwnerLetGoClosesWhatIsLeft(backend: Backend) throws {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            weak var released: Connections?
            do {
                let loop = try EventLoop(backend: backend).assumeIsolated()
                let connections = try Connections(loop: loop) { _, _ in }
                _ = try fds.handOver(server, to: connections)
                released = connections
                loop.close()
            }
            #expect(released == nil, "the Connections went away")
            #expect(readOnceWhenReady(peer) == .endOfFile, "its connection's fd was closed")
        }
    }
}
