#if canImport(Darwin) || os(FreeBSD) || SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// The Apple/BSD side of the descriptor helpers: Apple systems have no `pipe2`, so flags
    /// are set with `fcntl` after creation. In between, another thread's `fork`/`exec` could
    /// inherit an end: the same known gap as for sockets there.
    enum DescriptorPlatform {
        /// `pipe(fds)`, then `fcntl(F_SETFD, FD_CLOEXEC)` and optionally `O_NONBLOCK` on both
        /// ends; both are closed if any step fails.
        static func makePipe(nonBlocking: Bool) throws(Errno) -> (read: Int32, write: Int32) {
            var ends: [Int32] = [-1, -1]
            _ = try SystemCall.once { pipe(&ends) }
            do {
                for fd in ends {
                    _ = try SystemCall.once { cselectors_fcntl_set(fd, F_SETFD, FD_CLOEXEC) }
                    if nonBlocking { try Descriptor.setNonBlocking(fd) }
                }
            } catch {
                for fd in ends { SystemCall.close(fd) }
                throw error
            }
            return (ends[0], ends[1])
        }
    }
#endif
