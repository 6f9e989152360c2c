#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    extension Selector {
        /// A uring selector whose rings keep the sizes given (`io_uring_setup` rounds them up
        /// to powers of two) instead of growing with the registrations: for tests that fill
        /// the completion queue or the submission queue. Not supported API.
        @_spi(Testing)
        public convenience init(uringSubmissionEntries: UInt32, completionEntries: UInt32)
            throws(SelectorError)
        {
            guard Platform.uringUnavailableReason == nil else {
                throw SelectorError(.create, fd: nil, .backendUnavailable(.uring))
            }
            do {
                let kernel = try UringBackend(
                    submissionEntries: uringSubmissionEntries, completionEntries: completionEntries,
                    growsRings: false)
                self.init(backend: .uring, kernel: kernel, resumesEarlyWakeUps: true)
            } catch {
                throw SelectorError(.create, fd: nil, .system(error))
            }
        }
    }
#endif
