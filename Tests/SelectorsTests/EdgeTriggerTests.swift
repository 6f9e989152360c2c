import CSelectors
import Selectors
import Testing

/// The edge-trigger contract of `Trigger`, on every backend. Where native and emulated edge
/// are allowed to differ (a readiness left in place), the test asserts each side of the
/// difference by `capabilities.edge` rather than hiding it.
@Suite struct EdgeTriggerTests {
    @Test(arguments: Backend.available)
    func drainedDescriptorIsNotReportedAgainWhileNothingNewArrives(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, trigger: .edge, handler: ignoreEvents)
            try writeAll(right, "ping")
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try drain(left) == Array("ping".utf8))
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            #expect(try selector.readyEntries(timeout: .zero) == [])
        }
    }

    // The case an emulation that only compares readiness between waits gets wrong: the fd was
    // drained and refilled between two waits, so no wait ever saw it not ready. Missing this
    // edge would leave a request/response peer waiting forever.
    @Test(arguments: Backend.available)
    func dataArrivingAfterTheDrainButBeforeTheNextSelectIsReported(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, trigger: .edge, handler: ignoreEvents)
            for round in 0..<5 {
                try writeAll(right, "message \(round)")
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
                #expect(try drain(left) == Array("message \(round)".utf8))
            }
        }
    }

    @Test(arguments: Backend.available)
    func dataArrivingAfterAnEmptySelectIsReported(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, trigger: .edge, handler: ignoreEvents)
            try writeAll(right, "one")
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            try drain(left)
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            try writeAll(right, "two")
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try drain(left) == Array("two".utf8))
        }
    }

    // "What counts as a new edge after a partial read": natively, only more data; emulated,
    // the next wait (see Trigger). On both, more data is reported, and nothing is lost.
    @Test(arguments: Backend.available)
    func partlyReadDescriptorIsReportedAgainNoLaterThanWhenMoreDataArrives(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, trigger: .edge, handler: ignoreEvents)
            let first = [UInt8](repeating: 1, count: 100)
            try writeAll(right, first)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try readAvailable(left, limit: 10).count == 10)

            let again = try selector.readyEntries(timeout: .milliseconds(20))
            switch backend.capabilities.edge {
            case .native: #expect(again == [])
            case .emulated: #expect(again == [ReadyEntry(fd: left, events: .read)])
            }
            try writeAll(right, "more")
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try drain(left) == Array(first.dropFirst(10)) + Array("more".utf8))
        }
    }

    // Write readiness that nobody uses: natively reported once; emulated at every wait, which
    // is why portable edge code watches .write only while output is pending.
    @Test(arguments: Backend.available)
    func unusedWriteReadinessIsReportedOnceNativelyAndAtEveryWaitWhenEmulated(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, _) = try fds.socketPair()
            try selector.register(left, events: .write, trigger: .edge, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .write)])
            let again = try selector.readyEntries(timeout: .milliseconds(20))
            switch backend.capabilities.edge {
            case .native: #expect(again == [])
            case .emulated: #expect(again == [ReadyEntry(fd: left, events: .write)])
            }
        }
    }

    @Test(arguments: Backend.available)
    func writeReadinessReturnsOnceThePeerMakesRoomInAFullBuffer(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            let written = try fillUntilFull(left)
            try selector.register(left, events: .write, trigger: .edge, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            #expect(try drain(right).count == written)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .write)])
        }
    }

    // "What counts as a new edge after modify": everything ready, even what was reported.
    @Test(arguments: Backend.available)
    func modifyReportsAReadinessThatWasAlreadyReported(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try writeAll(right, "pending")
            try selector.register(left, events: .read, trigger: .edge, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            try selector.modify(left, events: .all)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .all)])
            try selector.modify(left, events: .read)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try drain(left) == Array("pending".utf8))
        }
    }

    // "What counts as a new edge after a hang-up": the hang-up is one; it never goes away, so
    // natively it is not reported again, and emulated it is until the key goes.
    @Test(arguments: Backend.available)
    func hangUpIsReportedAsReadReadinessAndReadReturnsZero(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, trigger: .edge, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .zero) == [])
            fds.close(right)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try readAvailable(left) == [])
            let again = try selector.readyEntries(timeout: .milliseconds(20))
            switch backend.capabilities.edge {
            case .native: #expect(again == [])
            case .emulated: #expect(again == [ReadyEntry(fd: left, events: .read)])
            }
            try selector.unregister(left)
            #expect(try selector.readyEntries(timeout: .zero) == [])
        }
    }

    @Test(arguments: Backend.available)
    func listenerIsReportedForAConnectionQueuedAfterAcceptReturnedEAGAIN(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let listener = try Socket.makeListener(address: .ipv4Loopback(port: 0), backlog: 16)
            fds.adopt(listener.fd)
            try selector.register(listener.fd, events: .read, trigger: .edge, handler: ignoreEvents)
            for round in 0..<3 {
                // Two connections queue before the wait: one edge, two accepts, then EAGAIN.
                fds.adopt(try Socket.connect(to: listener.address).fd)
                fds.adopt(try Socket.connect(to: listener.address).fd)
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [
                        ReadyEntry(fd: listener.fd, events: .read)
                    ], "round \(round)")
                var accepted = 0
                while let connection = try Socket.accept(listener.fd) {
                    fds.adopt(connection)
                    accepted += 1
                }
                #expect(accepted == 2)
            }
        }
    }

    // A writer on another thread sends in bursts while the loop's edge handler drains; every
    // byte must arrive, however the bursts fall between the handler's last read and the wait.
    @Test(arguments: Backend.available)
    func loopHandlerThatDrainsReceivesEveryByteOfBurstsFromAnotherThread(backend: Backend) throws {
        try withDescriptors { fds in
            let loop = try EventLoop(backend: backend).assumeIsolated()
            defer { loop.close() }
            let (reader, writer) = try fds.socketPair()
            let bursts = 2_000
            let burst = [UInt8](repeating: 0x42, count: 37)
            var received = 0
            try loop.register(reader, events: .read, trigger: .edge) { fd, _ in
                received += (try? drain(fd).count) ?? 0
                if received == bursts * burst.count { loop.stop() }
            }
            let sendingWriter = writer
            let expired = SharedFlag()
            let remote = loop.eventLoop
            try withDeadline(
                .seconds(30),
                onExpiry: {
                    expired.set()
                    remote.stop()
                }
            ) {
                try withBackgroundThread({
                    for _ in 0..<bursts {
                        var offset = 0
                        while offset < burst.count, !expired.isSet {
                            let sent = burst.withUnsafeBytes {
                                CSelectors.write(sendingWriter, $0.baseAddress! + offset, $0.count - offset)
                            }
                            // A full buffer just means the reader is behind.
                            if sent > 0 { offset += sent } else { sched_yield() }
                        }
                    }
                }) {
                    try loop.run()
                }
            }
            #expect(received == bursts * burst.count)
        }
    }
}
