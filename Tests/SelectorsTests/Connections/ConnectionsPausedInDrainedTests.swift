import CSelectors
import Selectors
import Testing

/// `pauseReading()` called from `.outputDrained`, when the readiness that flushed the queue
/// also found the fd readable: the pause must hold at once ("the peer's bytes wait in the
/// kernel"), not after one more `.received`.
@Suite struct ConnectionsPausedInDrainedTests {
    @Test(arguments: Backend.available, connectionTriggers)
    func pauseReadingInsideOutputDrainedStopsTheReadOfTheSameReadiness(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let (server, peer) = try fds.socketPair()
            try fillUntilFull(server)  // the next write queues everything
            let options = connectionOptions(trigger) {
                $0.highWaterMark = 1
                $0.lowWaterMark = 0
                $0.pausesReadingWhenFull = false
            }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                var pausedAt: Int?
                log.reaction = { connection, event in
                    guard case .outputDrained = event else { return }
                    log.calling { connection.pauseReading() }
                    pausedAt = log.events.count
                }
                let connection = try fds.handOver(server, to: connections)
                try log.calling { try connection.write(patternBytes(from: 0, count: 100)) }
                #expect(connection.pendingOutputCount == 100)
                try loop.runOnce(timeout: .zero)  // `.outputFull`
                #expect(log.notices(of: connection) == [.outputFull])
                // The peer sends, then takes everything: the fd is readable and writable at once.
                try writeAll(peer, "hello")
                try drain(peer)
                try runOnceUntil(loop) { pausedAt != nil }
                for _ in 0..<3 { try loop.runOnce(timeout: .milliseconds(5)) }
                let after = log.events[(pausedAt ?? 0)...].map(\.event)
                #expect(after.isEmpty, "nothing read after pauseReading(): \(after)")
                #expect(log.violations.isEmpty, "\(log.violations)")
                connection.resumeReading()
                try runOnceUntil(loop) { log.receivedCount(of: connection) == 5 }
            }
        }
    }
}
