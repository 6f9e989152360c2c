import CSelectors
import Selectors
import Testing

/// I/O handlers that change registrations while the loop dispatches a batch.
@Suite struct EventLoopHandlerTests {
    @Test(arguments: Backend.available)
    func aHandlerUnregisteringAnotherFdKeepsThatFdsHandlerFromRunningInTheSameBatch(
        backend: Backend
    ) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        try withDescriptors { fds in
            let (first, firstPeer) = try fds.socketPair()
            let (second, secondPeer) = try fds.socketPair()
            var runs: [Int32: Int] = [:]
            // Both are ready in the same wait. Which handler the backend dispatches first is
            // not specified, so each removes the other: only the first may run.
            func handler(other: Int32) -> SelectorHandler {
                { fd, _ in
                    runs[fd, default: 0] += 1
                    if (try? loop.key(for: other)) != nil { _ = try? loop.unregister(other) }
                }
            }
            try loop.register(first, events: .read, handler: handler(other: second))
            try loop.register(second, events: .read, handler: handler(other: first))
            try writeAll(firstPeer, "a")
            try writeAll(secondPeer, "b")
            try loop.runOnce(timeout: .seconds(1))
            #expect(runs.values.reduce(0, +) == 1, "\(runs)")
            // The survivor's data is never read, so it keeps running; the other never does.
            for _ in 0..<3 { try loop.runOnce(timeout: .milliseconds(5)) }
            #expect(runs.count == 1, "\(runs)")
            let survivor = try #require(runs.keys.first)
            #expect(runs[survivor] == 4)
            try loop.unregister(survivor)
        }
    }

    @Test(arguments: Backend.available)
    func aHandlerMayCloseItsOwnFdBeforeOrAfterUnregisteringIt(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        try withDescriptors { fds in
            let (unregisterFirst, peerA) = try fds.socketPair()
            let (closeFirst, peerB) = try fds.socketPair()
            let (bystander, peerC) = try fds.socketPair()
            var runs: [String: Int] = [:]
            try loop.register(unregisterFirst, events: .read) { fd, _ in
                runs["unregisterFirst", default: 0] += 1
                _ = try? loop.unregister(fd)
                fds.close(fd)
            }
            try loop.register(closeFirst, events: .read) { fd, _ in
                runs["closeFirst", default: 0] += 1
                fds.close(fd)
                // The kernel already forgot the fd; the loop must still drop its key.
                #expect(throws: Never.self) { try loop.unregister(fd) }
            }
            try loop.register(bystander, events: .read) { fd, _ in
                runs["bystander", default: 0] += 1
                _ = try? readAvailable(fd)
            }
            try writeAll(peerA, "a")
            try writeAll(peerB, "b")
            try writeAll(peerC, "c")
            try runOnceUntil(loop) { runs.count == 3 }
            // More traffic for the bystander only; the closed ones never come back.
            try writeAll(peerC, "c")
            try runOnceUntil(loop) { runs["bystander"] == 2 }
            for _ in 0..<3 { try loop.runOnce(timeout: .milliseconds(5)) }
            #expect(runs == ["unregisterFirst": 1, "closeFirst": 1, "bystander": 2])
            #expect(throws: SelectorError.self) { try loop.key(for: unregisterFirst) }
            #expect(throws: SelectorError.self) { try loop.key(for: closeFirst) }
            try loop.unregister(bystander)
        }
    }

    @Test(arguments: Backend.available)
    func aHandlerMayRegisterNewFdsThatThenGetTheirEvents(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        try withDescriptors { fds in
            let (trigger, triggerPeer) = try fds.socketPair()
            // Enough new registrations to outgrow the selector's smallest ready buffer.
            let count = 80
            var pairs: [(Int32, Int32)] = []
            for _ in 0..<count { pairs.append(try fds.socketPair()) }
            for (_, peer) in pairs { try writeAll(peer, "n") }
            var newRuns: [Int32: Int] = [:]
            try loop.register(trigger, events: .read) { fd, _ in
                _ = try? readAvailable(fd)
                _ = try? loop.unregister(fd)
                for (end, _) in pairs {
                    _ = try? loop.register(end, events: .read) { fd, _ in
                        newRuns[fd, default: 0] += 1
                        _ = try? readAvailable(fd)
                        _ = try? loop.unregister(fd)
                    }
                }
            }
            try writeAll(triggerPeer, "t")
            try runOnceUntil(loop) { newRuns.count == count }
            #expect(newRuns.values.allSatisfy { $0 == 1 })
            #expect(Set(newRuns.keys) == Set(pairs.map(\.0)))
        }
    }
}
