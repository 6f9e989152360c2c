import CSelectors
import Selectors
import Testing

/// A handler that unregisters and closes another ready fd of the same batch leaves a stale
/// event behind. That is an ordinary removal, not a ghost (see `EventLoopGhostRegistrationTests`),
/// so it must not rebuild the kernel's interest set. A rebuild re-arms edge-triggered
/// registrations, which makes it visible: an edge fd whose data was left unread is reported
/// again after one, and never otherwise. Only where edge triggering is the kernel's: the
/// emulation on poll and select reports an fd again by its own rules.
@Suite struct EventLoopRemovalDuringDispatchTests {
    @Test(arguments: Backend.available.filter { $0.capabilities.edge == .native })
    func closingAnotherReadyFdMidBatchDoesNotRearmEdgeRegistrations(backend: Backend) throws {
        try withDescriptors { fds in
            let loop = try EventLoop(backend: backend).assumeIsolated()
            defer { loop.close() }
            let (edge, edgePeer) = try fds.socketPair()
            try writeAll(edgePeer, "x")
            var edgeReports = 0
            try loop.register(edge, events: .read, trigger: .edge) { _, _ in edgeReports += 1 }
            try loop.runOnce(timeout: .seconds(1))
            #expect(edgeReports == 1)

            // Whichever of the two runs first ends the other, whose event is then stale.
            let (first, firstPeer) = try fds.socketPair()
            let (second, secondPeer) = try fds.socketPair()
            var ran: [Int32] = []
            let endTheOther: SelectorHandler = { fd, _ in
                ran.append(fd)
                let other = fd == first ? second : first
                guard ran.count == 1 else { return }
                _ = try? loop.unregister(other)
                fds.close(other)
            }
            try loop.register(first, events: .read, handler: endTheOther)
            try loop.register(second, events: .read, handler: endTheOther)
            try writeAll(firstPeer, "y")
            try writeAll(secondPeer, "z")
            var batches = 0
            while ran.isEmpty && batches < 100 {
                try loop.runOnce(timeout: .seconds(1))
                batches += 1
            }
            #expect(ran.count == 1, "the removed fd's handler never runs")

            try loop.runOnce(timeout: .milliseconds(50))
            #expect(edgeReports == 1, "the edge registration was re-armed: the interest set was rebuilt")
        }
    }
}
