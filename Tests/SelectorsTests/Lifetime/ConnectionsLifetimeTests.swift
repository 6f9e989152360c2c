import CSelectors
import Selectors
import Testing

/// A `Connections` that has served a connection lives until its loop closes, which ends its
/// connections (closing their fds); then it goes, and it never keeps its loop alive by itself.
/// (It once kept itself and its loop alive for good.)
@Suite struct ConnectionsLifetimeTests {
    private final class Box<Value: AnyObject> {
        weak var value: Value?
        init(_ value: Value?) { self.value = value }
    }

    @Test(arguments: Backend.available)
    func closingTheLoopEndsItsConnectionsAndFreesEverything(backend: Backend) throws {
        let weakLoop = Box<EventLoop>(nil)
        let weakConnections = Box<Connections>(nil)
        var ends: [ConnectionEnd] = []
        let (ours, peer) = try Socket.makePair(nonBlocking: true)
        defer { Socket.close(peer) }
        do {
            let io = try EventLoop(backend: backend).assumeIsolated()
            weakLoop.value = io.eventLoop
            let connections = try Connections(loop: io) { _, event in
                if case .closed(let end) = event { ends.append(end) }
            }
            weakConnections.value = connections
            try connections.adopt(ours)
            io.close()
        }
        #expect(ends == [.aborted])
        #expect(weakConnections.value == nil, "Connections outlived its closed loop")
        #expect(weakLoop.value == nil, "the closed loop was kept alive")
        // Our end was closed: the peer reads end of stream (or a reset).
        var byte: UInt8 = 0
        #expect(read(peer, &byte, 1) <= 0)
    }

    @Test(arguments: Backend.available)
    func aConnectionsNobodyHoldsServesItsConnectionsUntilTheLoopCloses(backend: Backend) throws {
        let io = try EventLoop(backend: backend).assumeIsolated()
        defer { io.close() }
        let weakConnections = Box<Connections>(nil)
        let (ours, peer) = try Socket.makePair(nonBlocking: true)
        defer { Socket.close(peer) }
        var echoed = 0
        do {
            let connections = try Connections(loop: io) { connection, event in
                if case .received(let bytes) = event {
                    echoed += bytes.count
                    try? connection.write(bytes)
                    connection.close()
                }
            }
            weakConnections.value = connections
            try connections.adopt(ours)
        }
        #expect(weakConnections.value != nil, "dropped while it had a connection")
        var message: [UInt8] = Array("ping".utf8)
        #expect(write(peer, &message, message.count) == 4)
        var answer: [UInt8] = [0, 0, 0, 0]
        try runOnceUntil(io) { echoed == 4 }
        #expect(read(peer, &answer, 4) == 4 && answer == message)
        #expect(weakConnections.value != nil)
        io.close()
        #expect(weakConnections.value == nil)
    }
}
