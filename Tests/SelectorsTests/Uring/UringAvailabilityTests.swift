#if os(Linux)
    import Selectors
    import Testing

    /// The probe's verdict, printed, so a run where the uring tests are skipped says why.
    @Suite struct UringAvailabilityTests {
        @Test func uringIsListedExactlyWhenItCanBeCreatedAndTheReasonIsPrintedWhenNot() throws {
            let unavailable = SelectorError(.create, fd: nil, .backendUnavailable(.uring))
            if uringAvailable {
                print("uring backend: available (the shared suite runs on it)")
                #expect(Backend.available.contains(.uring))
                #expect(try Selector(backend: .uring).backend == .uring)
            } else {
                print("uring backend: skipped: \(unavailable)")
                #expect(!Backend.available.contains(.uring))
                expectSelectorError(.create, fd: nil, .backendUnavailable(.uring)) {
                    try Selector(backend: .uring)
                }
                // The message names why, not only that.
                #expect(unavailable.description.contains("not available: "))
            }
            #expect(Backend.default == .epoll)
        }
    }
#endif
