#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// Linux: epoll first, so `DefaultSelector` uses it; poll and select for comparison and tests.
    enum Platform {
        static let availableBackends: [Backend] = [.epoll, .poll, .select]

        static func makeBackend(_ backend: Backend) throws(SelectorError) -> any PollingBackend {
            switch backend {
            case .epoll:
                do { return try EpollBackend() } catch {
                    throw SelectorError(.create, fd: nil, .system(error))
                }
            case .poll: return PollBackend()
            case .select: return SelectBackend()
            case .kqueue, .scripted: throw SelectorError(.create, fd: nil, .backendUnavailable(backend))
            }
        }

        static func makeWaker() throws(Errno) -> any Waker { try EventfdWaker() }

        /// No limit for the select backend: Linux's select(2) reads as many bits as its first
        /// argument says (fs/select.c sizes its copies by it), so bitmaps sized by the library
        /// reach any fd the process can open.
        static let selectDescriptorLimit: Int32? = nil
    }
#endif
