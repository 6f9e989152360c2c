#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// Linux: epoll first, so `DefaultSelector` uses it; io_uring where the kernel allows it;
    /// poll and select for comparison and tests.
    enum Platform {
        static let availableBackends: [Backend] =
            uringUnavailableReason == nil ? [.epoll, .uring, .poll, .select] : [.epoll, .poll, .select]

        static func makeBackend(_ backend: Backend) throws(SelectorError) -> any PollingBackend {
            switch backend {
            case .epoll:
                do { return try EpollBackend() } catch {
                    throw SelectorError(.create, fd: nil, .system(error))
                }
            case .uring:
                guard uringUnavailableReason == nil else {
                    throw SelectorError(.create, fd: nil, .backendUnavailable(.uring))
                }
                do { return try UringBackend() } catch {
                    throw SelectorError(.create, fd: nil, .system(error))
                }
            case .poll: return PollBackend()
            case .select: return SelectBackend()
            case .kqueue, .scripted: throw SelectorError(.create, fd: nil, .backendUnavailable(backend))
            }
        }

        /// Why `backend` cannot be created here, when there is more to say than "not on this
        /// platform": the uring probe's finding.
        static func unavailabilityReason(of backend: Backend) -> String? {
            backend == .uring ? uringUnavailableReason : nil
        }

        static func makeWaker() throws(Errno) -> any Waker { try EventfdWaker() }

        /// `timerfd`.
        static func makeKernelTimer() throws(Errno) -> (any KernelTimer)? { try TimerfdKernelTimer() }

        /// No limit for the select backend: Linux's select(2) reads as many bits as its first
        /// argument says (fs/select.c sizes its copies by it), so bitmaps sized by the library
        /// reach any fd the process can open.
        static let selectDescriptorLimit: Int32? = nil

        /// Why the uring backend cannot be used in this process, or nil when it can. Found
        /// once, at first use, by doing what the backend does: `io_uring_setup` with its flags
        /// (which needs Linux 6.1 for `IORING_SETUP_DEFER_TASKRUN`), the features it relies
        /// on, and `IORING_REGISTER_PROBE` for the poll opcodes. io_uring may be switched off
        /// (`sysctl kernel.io_uring_disabled`), blocked by a seccomp filter (many container
        /// runtimes) or missing; `SELECTORS_USE_IO_URING=0` in the environment switches the
        /// backend off too, as libuv's `UV_USE_IO_URING=0` does.
        static let uringUnavailableReason: String? = probeUring()

        private static func probeUring() -> String? {
            if let setting = getenv("SELECTORS_USE_IO_URING"), String(cString: setting) == "0" {
                return "switched off by SELECTORS_USE_IO_URING=0"
            }
            let ring: UringRing
            do {
                ring = try UringRing(submissionEntries: 2, completionEntries: 4)
            } catch {
                switch error.rawValue {
                case ENOSYS:
                    return
                        "io_uring_setup failed with ENOSYS: the kernel has no io_uring, or a seccomp filter blocks it"
                case EPERM:
                    return "io_uring_setup failed with EPERM: io_uring is switched off "
                        + "(sysctl kernel.io_uring_disabled) or blocked by a seccomp filter"
                case EINVAL:
                    return "io_uring_setup failed with EINVAL: the kernel is older than 6.1 "
                        + "(no IORING_SETUP_DEFER_TASKRUN)"
                default:
                    return "io_uring_setup failed with \(error)"
                }
            }
            defer { ring.close() }
            guard ring.hasNeededFeatures else {
                return "the kernel lacks an io_uring feature the backend needs (NODROP, EXT_ARG, CQE_SKIP)"
            }
            do {
                guard try ring.supportsPoll() else {
                    return "the kernel's io_uring lacks IORING_OP_POLL_ADD, POLL_REMOVE or ASYNC_CANCEL"
                }
            } catch {
                return "IORING_REGISTER_PROBE failed with \(error)"
            }
            return nil
        }
    }
#endif
