#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// The Linux side of the descriptor helpers: flags are set at creation, in one call.
    enum DescriptorPlatform {
        /// `pipe2(fds, O_CLOEXEC [| O_NONBLOCK])`: no other thread's `fork`/`exec` can inherit
        /// an end between creation and `fcntl`, as it could after a plain `pipe`.
        static func makePipe(nonBlocking: Bool) throws(Errno) -> (read: Int32, write: Int32) {
            var ends: [Int32] = [-1, -1]
            let flags = O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0)
            _ = try SystemCall.once { cselectors_pipe2(&ends, flags) }
            return (ends[0], ends[1])
        }
    }
#endif
