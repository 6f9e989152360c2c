import CSelectors
import Selectors
import Testing

/// One registered fd closed without unregistering made select(2) fail with `EBADF`, and the
/// select backend then reported only the closed fds, on every wait: ready live fds were never
/// reported until the closed one was unregistered. Every backend must report the live fds in
/// the same batch; poll and select, whose lists live in user space, also report the closed one,
/// and so does uring, which arms a registration at the next wait (after the close: `EBADF`).
@Suite struct ClosedDescriptorDoesNotHideOthersTests {
    @Test(arguments: Backend.available)
    func closedRegisteredDescriptorDoesNotHideReadyLiveOnes(backend: Backend) async throws {
        try await FixedDescriptorNumbers.withClosedNumber { closed in
            try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                defer { selector.close() }
                let (socket, _) = try fds.socketPair()
                try fds.duplicate(socket, onto: closed)
                try selector.register(closed, events: .read, handler: ignoreEvents)
                let (readable, readablePeer) = try fds.socketPair()
                try writeAll(readablePeer, "x")
                try selector.register(readable, events: .read, handler: ignoreEvents)
                let (writable, _) = try fds.socketPair()
                try selector.register(writable, events: .write, handler: ignoreEvents)
                let (idle, _) = try fds.socketPair()
                try selector.register(idle, events: .read, handler: ignoreEvents)
                fds.close(closed)
                for round in 0..<3 {
                    let entries = try selector.readyEntries(timeout: .seconds(5))
                    let map = Dictionary(
                        entries.map { ($0.fd, $0.events) }, uniquingKeysWith: { $0.union($1) })
                    #expect(entries.count == map.count, "one entry per fd: \(entries)")
                    #expect(map[writable] == .write, "round \(round): \(entries)")
                    #expect(map[readable] == .read, "round \(round): \(entries)")
                    #expect(map[idle] == nil, "round \(round): \(entries)")
                    switch backend {
                    case .poll, .select, .uring:
                        #expect(map[closed] == .read, "round \(round): \(entries)")
                    case .scripted:
                        Issue.record("a kernel test ran on the scripted backend (not in Backend.available)")
                    case .epoll, .kqueue:
                        // kqueue dropped the filter on close; epoll still watches the file,
                        // which `socket` keeps open, but it has nothing to read.
                        #expect(map[closed] == nil, "round \(round): \(entries)")
                    }
                }
                try selector.unregister(closed)
            }
        }
    }
}
