#if os(Linux) && !SELECTORS_BSD_TYPECHECK
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
    }
#endif
