import CSelectors
import Selectors
import Testing

/// Every connection's registration borrows its `Connections`' one handler (the key table holds
/// no reference to it). These check the paths where a borrowed handler meets an owned one.
@Suite struct ConnectionsBorrowedHandlerTests {
    /// A caller that takes over a connection's registration with a handler of its own (misuse,
    /// but allowed) gives the table a handler it owns: released once when unregistered, while
    /// the borrowed one is neither released nor retired, so the others go on being served.
    @Test(arguments: Backend.available)
    func aHandlerReplacingTheBorrowedOneIsReleasedOnceAndTheOthersGoOn(backend: Backend) throws {
        try withDescriptors { fds in
            try withConnections(backend: backend, options: connectionOptions(.level)) {
                loop, connections, log in
                let (taken, takenPeer) = try fds.socketPair()
                let (kept, keptPeer) = try fds.socketPair()
                let takenOver = try fds.handOver(taken, to: connections)
                let served = try fds.handOver(kept, to: connections)
                weak var tracker: Tracker?
                do {
                    let owned = Tracker()
                    tracker = owned
                    try loop.modify(taken, events: .read) { _, _ in owned.calls += 1 }
                }
                try writeAll(takenPeer, [1])
                try runOnceUntil(loop) { (tracker?.calls ?? 0) > 0 }
                try loop.unregister(taken)
                try loop.runOnce(timeout: .zero)
                #expect(tracker == nil, "the replacing handler is released once unregistered")
                try writeAll(keptPeer, [2, 3])
                try runOnceUntil(loop) { log.receivedCount(of: served) == 2 }
                #expect(takenOver.isOpen, "the connection's slot is the owner's to close")
                takenOver.abort()
            }
        }
    }

    private final class Tracker {
        var calls = 0
    }
}
