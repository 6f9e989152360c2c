import Selectors
import Testing

@Suite struct BackendTests {
    @Test(arguments: Backend.available)
    func backendNameParsesInAnyCaseAndUnknownNamesAreNil(backend: Backend) {
        #expect(Backend(name: backend.description) == backend)
        #expect(Backend(name: backend.rawValue.uppercased()) == backend)
        #expect(Backend(name: "no-such-backend") == nil)
        #expect(Backend(name: "") == nil)
    }

    @Test(arguments: Backend.available)
    func everyAvailableBackendCreatesASelectorOfThatBackend(backend: Backend) throws {
        #expect(backend.isAvailable)
        let selector = try Selector(backend: backend)
        #expect(selector.backend == backend)
        #expect(!selector.isClosed)
        #expect(selector.count == 0)
    }

    #if os(Linux)
        // uring is listed only where the probe found io_uring usable (see UringAvailabilityTests).
        @Test(arguments: Backend.available)
        func linuxOffersEpollPollAndSelectBestFirst(backend: Backend) {
            let uring: [Backend] = Backend.uring.isAvailable ? [.uring] : []
            #expect(Backend.available == [.epoll] + uring + [.poll, .select])
            #expect(!Backend.kqueue.isAvailable)
        }

        @Test(arguments: Backend.available)
        func defaultSelectorUsesEpollOnLinux(backend: Backend) throws {
            #expect(Backend.default == .epoll)
            #expect(try DefaultSelector().backend == .epoll)
            // The explicit choice still wins over the default.
            #expect(try Selector(backend: backend).backend == backend)
        }

        @Test(arguments: Backend.available)
        func creatingKqueueOnLinuxThrowsBackendUnavailable(backend: Backend) {
            expectSelectorError(.create, fd: nil, .backendUnavailable(.kqueue)) {
                try Selector(backend: .kqueue)
            }
        }
    #endif
}
