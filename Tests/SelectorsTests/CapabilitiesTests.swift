import CSelectors
import Selectors
import Testing

/// `Backend.capabilities` must say what the backend really does, so each claim is checked
/// against the kernel here (trigger modes are checked in EdgeTriggerTests and
/// OneShotTriggerTests, hang-ups in ReadinessTests).
@Suite struct CapabilitiesTests {
    @Test(arguments: Backend.available)
    func regularFilesAreAcceptedExactlyWhenTheCapabilitiesSaySo(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let file = try fds.regularFile()
            // Not empty: kqueue reports a file readable only while its offset is below its size.
            try writeAll(file, "x")
            _ = lseek(file, 0, SEEK_SET)
            if backend.capabilities.acceptsRegularFiles {
                try selector.register(file, events: .read, handler: ignoreEvents)
                #expect(
                    try selector.readyEntries(timeout: .seconds(5)) == [ReadyEntry(fd: file, events: .read)])
            } else {
                #expect(
                    selectorError { try selector.register(file, events: .read, handler: ignoreEvents) } != nil
                )
                #expect(selector.count == 0)
            }
        }
    }

    @Test(arguments: Backend.available)
    func selectorsAndLoopsReportTheirBackendsCapabilities(backend: Backend) throws {
        let selector = try Selector(backend: backend)
        #expect(selector.capabilities == backend.capabilities)
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        #expect(loop.capabilities == backend.capabilities)
    }

    @Test func descriptionNamesEveryCapability() {
        let text = Backend.poll.capabilities.description
        #expect(
            text == "edge: emulated, one-shot: emulated, regular files: accepted, fds: any, hang-up: separate"
        )
        #expect(Backend.epoll.capabilities.description.contains("regular files: refused"))
    }

    #if os(Linux)
        @Test func linuxBackendsHaveTheCapabilitiesTheReadmeTableShows() {
            #expect(Backend.epoll.capabilities.edge == .native)
            #expect(Backend.epoll.capabilities.oneShot == .native)
            #expect(!Backend.epoll.capabilities.acceptsRegularFiles)
            for backend in [Backend.poll, .select] {
                #expect(backend.capabilities.edge == .emulated)
                #expect(backend.capabilities.oneShot == .emulated)
                #expect(backend.capabilities.acceptsRegularFiles)
            }
            #expect(Backend.select.capabilities.descriptorLimit == nil)
            #expect(!Backend.select.capabilities.reportsHangUpSeparately)
            #expect(Backend.poll.capabilities.reportsHangUpSeparately)
        }
    #endif
}
