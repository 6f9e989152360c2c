import CSelectors
import Selectors
import Testing

/// A handler may adopt an fd numbered far above every connection so far, which grows the
/// fd-indexed table of connection state while the connection whose event is being handled is
/// still in use. The table's entries never move (`DescriptorTable` reserves its address space
/// up front), so the event's connection goes on being served. When growing moved the table,
/// the code after the handler read the connection's state from the unmapped old table: a
/// crash, reached here from `.endOfInput` in both modes and from `.received` in edge mode.
@Suite struct ConnectionsTableGrowthTests {
    private static let enoughDescriptors = descriptorLimit > 8_000

    @Test(
        .enabled(if: enoughDescriptors, "needs RLIMIT_NOFILE above 8,000 (raise it with ulimit -n)"),
        arguments: Backend.available.filter { $0.capabilities.descriptorLimit == nil }, connectionTriggers)
    func aHandlerAdoptingAFarHigherFdLeavesItsOwnConnectionIntact(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let (near, nearPeer) = try fds.socketPair()
                let first = try fds.handOver(near, to: connections)
                // Two fds each beyond what the table holds when it is adopted (1,024 at the
                // start, then at least twice the previous fd).
                var far: [(fd: Int32, peer: Int32)] = []
                for minimum: Int32 in [3_000, 7_000] {
                    let (socket, peer) = try fds.socketPair()
                    far.append((try fds.duplicate(socket, atLeast: minimum), peer))
                    fds.close(socket)
                }
                var adopted: [Connection] = []
                var refusals: [SelectorError] = []
                func adoptNext() {
                    do {
                        adopted.append(try fds.handOver(far[adopted.count].fd, to: connections))
                    } catch let error as SelectorError {
                        refusals.append(error)
                    } catch {
                        Issue.record("unexpected \(error)")
                    }
                }
                log.reaction = { connection, event in
                    guard connection == first else { return }
                    switch event {
                    case .received where adopted.isEmpty: adoptNext()
                    case .endOfInput: adoptNext()
                    default: break
                    }
                }

                try writeAll(nearPeer, [1, 2, 3])
                #expect(try runOnceUntil(loop) { adopted.count == 1 && log.receivedCount(of: first) == 3 })
                // The connection that was handled goes on: more bytes, then its end, whose
                // handler grows the table again.
                try writeAll(nearPeer, [4, 5])
                #expect(try runOnceUntil(loop) { log.receivedCount(of: first) == 5 })
                _ = shutdown(nearPeer, Int32(SHUT_WR))
                #expect(try runOnceUntil(loop) { log.end(of: first) != nil })
                #expect(log.end(of: first) == .peerClosed)
                #expect(log.bytes[first] == [1, 2, 3, 4, 5])
                #expect(refusals.isEmpty, "\(refusals)")
                #expect(adopted.count == 2)

                // The far connections are served like any other.
                for (index, connection) in adopted.enumerated() {
                    try writeAll(far[index].peer, [UInt8(index), 9])
                    #expect(try runOnceUntil(loop) { log.receivedCount(of: connection) == 2 })
                    #expect(log.bytes[connection] == [UInt8(index), 9])
                }
                #expect(log.violations.isEmpty, "\(log.violations)")
            }
        }
    }
}
