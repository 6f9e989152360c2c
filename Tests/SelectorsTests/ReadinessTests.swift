import CSelectors
import Selectors
import Testing

@Suite struct ReadinessTests {
    @Test(arguments: Backend.available, Trigger.allCases)
    func readAndWriteReadinessOfOneDescriptorArriveAsOneEntry(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try writeAll(right, "pending")
            try selector.register(left, events: [.read, .write], trigger: trigger, handler: ignoreEvents)
            #expect(
                try selector.readyEntries(timeout: .seconds(5)) == [
                    ReadyEntry(fd: left, events: [.read, .write])
                ])
        }
    }

    @Test(arguments: Backend.available, Trigger.allCases)
    func reportedEventsAreMaskedByTheRegisteredInterest(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (idle, _) = try fds.socketPair()
            let (busy, busyPeer) = try fds.socketPair()
            // Writable but asked only for read: nothing to report.
            try selector.register(idle, events: .read, trigger: trigger, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            // Readable and writable but asked only for write: write alone.
            try writeAll(busyPeer, "pending")
            try selector.register(busy, events: .write, trigger: trigger, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: busy, events: .write)])
        }
    }

    @Test(arguments: Backend.available, Trigger.allCases)
    func peerCloseReportsReadReadinessAndReadReturnsZero(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, trigger: trigger, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .zero) == [])
            fds.close(right)
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try readAvailable(left) == [])
        }
    }

    @Test(arguments: Backend.available)
    func peerShutdownOfWritingReportsReadReadinessAndEndOfFile(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            try writeAll(right, "last")
            _ = shutdown(right, Int32(SHUT_WR))
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try readAvailable(left) == Array("last".utf8))
            #expect(try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: left, events: .read)])
            #expect(try readAvailable(left) == [])
        }
    }

    // The send buffer is full first, so the write readiness can only come from the hang-up,
    // and the handler's next write is what tells it the peer is gone.
    @Test(arguments: Backend.available, Trigger.allCases)
    func peerCloseWakesAWriteOnlyRegistrationWhoseBufferIsFull(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try fillUntilFull(left)
            var handled: [Events] = []
            try selector.register(left, events: .write, trigger: trigger) { _, events in
                handled.append(events)
            }
            #expect(try selector.dispatch(timeout: .milliseconds(20)) == 0)
            fds.close(right)
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(handled == [.write])
            #expect(sendByteReportingError(left) == .brokenPipe)
        }
    }

    // epoll and poll turn the hang-up (EPOLLHUP/POLLHUP) into write readiness. select(2)
    // has no hang-up bit and Linux maps it into the read set only, so with a full send
    // buffer a write-only key is not woken there; a key that also wants read is, through
    // read readiness. This asserts that difference rather than hiding it, as
    // `capabilities.reportsHangUpSeparately` states it.
    @Test(arguments: Backend.available, Trigger.allCases)
    func peerShutdownOfBothDirectionsWakesWriteInterestExceptOnSelect(backend: Backend, trigger: Trigger)
        throws
    {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (writeOnly, writeOnlyPeer) = try fds.socketPair()
            let (both, bothPeer) = try fds.socketPair()
            try fillUntilFull(writeOnly)
            try fillUntilFull(both)
            try selector.register(writeOnly, events: .write, trigger: trigger, handler: ignoreEvents)
            try selector.register(both, events: .all, trigger: trigger, handler: ignoreEvents)
            #expect(try selector.readyEntries(timeout: .milliseconds(20)) == [])
            _ = shutdown(writeOnlyPeer, Int32(SHUT_RDWR))
            _ = shutdown(bothPeer, Int32(SHUT_RDWR))
            let entries = try selector.readyEntries(timeout: .seconds(5))
            if !backend.capabilities.reportsHangUpSeparately {
                #expect(entries == [ReadyEntry(fd: both, events: .read)])
            } else {
                #expect(Set(entries.map(\.fd)) == [writeOnly, both])
                #expect(entries.first { $0.fd == writeOnly }?.events == .write)
                #expect(entries.first { $0.fd == both }?.events == .all)
            }
            #expect(sendByteReportingError(writeOnly) == .brokenPipe)
        }
    }

    @Test(arguments: Backend.available, Trigger.allCases)
    func peerResetReachesWriteAndReadHandlers(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (client, server) = try fds.tcpLoopbackPair()
            try fillUntilFull(client)
            var handled: [Events] = []
            try selector.register(client, events: .write, trigger: trigger) { _, events in
                handled.append(events)
            }
            try fds.reset(server)
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(handled == [.write])

            try selector.modify(client, events: .read)
            #expect(try selector.dispatch(timeout: .seconds(5)) == 1)
            #expect(handled == [.write, .read])
            #expect(throws: Errno.connectionReset) { try readAvailable(client) }
        }
    }
}
