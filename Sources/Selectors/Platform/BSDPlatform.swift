#if canImport(Darwin) || os(FreeBSD) || SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// Apple and BSD systems: kqueue first, so `DefaultSelector` uses it; poll and select too.
    enum Platform {
        static let availableBackends: [Backend] = [.kqueue, .poll, .select]

        static func makeBackend(_ backend: Backend) throws(SelectorError) -> any PollingBackend {
            switch backend {
            case .kqueue:
                do { return try KqueueBackend() } catch {
                    throw SelectorError(.create, fd: nil, .system(error))
                }
            case .poll: return PollBackend()
            case .select: return SelectBackend()
            case .epoll, .uring, .scripted:
                throw SelectorError(.create, fd: nil, .backendUnavailable(backend))
            }
        }

        /// Why a backend is missing here beyond "not on this platform": nothing to add.
        static func unavailabilityReason(of backend: Backend) -> String? { nil }

        static func makeWaker() throws(Errno) -> any Waker { try PipeWaker() }

        /// None: kqueue's `EVFILT_TIMER` could be one, but it is not written, since it could
        /// not be run here; poll and select have nothing like it. Loops time their waits.
        static func makeKernelTimer() throws(Errno) -> (any KernelTimer)? { nil }

        /// The select backend stops below `FD_SETSIZE` here. Darwin's `select` fails with
        /// `EINVAL` for a larger first argument (unless a program opts into
        /// `_DARWIN_UNLIMITED_SELECT`); the BSD kernels take larger sets, but the library has
        /// never run there, so they keep the limit that is known to be safe.
        static let selectDescriptorLimit: Int32? = cselectors_fd_setsize()
    }
#endif
