#if canImport(Darwin) || os(FreeBSD) || os(OpenBSD) || SELECTORS_BSD_TYPECHECK
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
            case .epoll, .scripted: throw SelectorError(.create, fd: nil, .backendUnavailable(backend))
            }
        }

        static func makeWaker() throws(Errno) -> any Waker { try PipeWaker() }
    }
#endif
