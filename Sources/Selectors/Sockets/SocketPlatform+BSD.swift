#if canImport(Darwin) || os(FreeBSD) || SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// The Apple/BSD side of the socket helpers: every place where they differ from Linux.
    ///
    /// There is no `accept4` on Apple systems and no `MSG_NOSIGNAL`, so flags are set with
    /// `fcntl` after creation and `SIGPIPE` is turned off per socket with `SO_NOSIGPIPE`.
    /// Between `socket` and `fcntl(FD_CLOEXEC)` another thread's `fork`/`exec` could inherit
    /// the descriptor: a known gap on these systems.
    enum SocketPlatform {
        /// `SOCK_STREAM`.
        static let streamType = SOCK_STREAM

        /// No per-call flag: `SO_NOSIGPIPE` is set on every socket instead.
        static var sendFlags: Int32 { 0 }

        /// `SHUT_WR`.
        static let shutWrite = SHUT_WR

        /// The option for the silence before the first keepalive probe: `TCP_KEEPALIVE` on
        /// Apple systems, `TCP_KEEPIDLE` on the BSDs.
        static var keepAliveIdle: Int32 {
            #if canImport(Darwin) || SELECTORS_BSD_TYPECHECK
                TCP_KEEPALIVE
            #else
                TCP_KEEPIDLE
            #endif
        }

        /// `socket(family, SOCK_STREAM, 0)`, then close-on-exec, optional non-blocking and
        /// `SO_NOSIGPIPE`; the descriptor is closed if any step fails.
        static func makeStreamSocket(family: Int32, nonBlocking: Bool) throws(Errno) -> Int32 {
            let fd = try SystemCall.once { socket(family, streamType, 0) }
            do {
                try prepare(fd, nonBlocking: nonBlocking)
            } catch {
                SystemCall.close(fd)
                throw error
            }
            return fd
        }

        /// `accept` then the same preparation as a new socket (non-blocking, close-on-exec,
        /// `SO_NOSIGPIPE`); returns -1 with `errno` set like `accept4`.
        static func acceptOnce(_ fd: Int32) -> Int32 {
            let accepted = accept(fd, nil, nil)
            guard accepted >= 0 else { return accepted }
            do {
                try prepare(accepted, nonBlocking: true)
            } catch {
                SystemCall.close(accepted)
                cselectors_set_errno(error.rawValue)
                return -1
            }
            return accepted
        }

        /// Nothing to do before binding a source address: Apple systems have no
        /// `IP_BIND_ADDRESS_NO_PORT`.
        static func deferPortChoice(_ fd: Int32, for source: SocketAddress) {}

        /// BSD `sockaddr`s start with their own length, which the kernel checks.
        @inline(__always)
        static func stampLength(_ storage: inout sockaddr_storage, _ length: socklen_t) {
            storage.ss_len = UInt8(truncatingIfNeeded: length)
        }

        /// `SOCK_DGRAM`.
        static let datagramType = SOCK_DGRAM

        /// No abstract names: a `sun_path` starting with NUL is simply unnamed.
        static var hasAbstractUnixNames: Bool { false }

        /// `socket(family, type, 0)`, then the same preparation as a stream socket.
        static func makeSocket(family: Int32, type: Int32, nonBlocking: Bool) throws(Errno) -> Int32 {
            let fd = try SystemCall.once { socket(family, type, 0) }
            do {
                try prepare(fd, nonBlocking: nonBlocking)
            } catch {
                SystemCall.close(fd)
                throw error
            }
            return fd
        }

        /// `socketpair(AF_UNIX, SOCK_STREAM, 0)`, then each end prepared like a new socket;
        /// both are closed if any step fails.
        static func makeStreamPair(nonBlocking: Bool) throws(Errno) -> (Int32, Int32) {
            var ends: [Int32] = [-1, -1]
            _ = try SystemCall.once { socketpair(AF_UNIX, streamType, 0, &ends) }
            do {
                for fd in ends { try prepare(fd, nonBlocking: nonBlocking) }
            } catch {
                for fd in ends { SystemCall.close(fd) }
                throw error
            }
            return (ends[0], ends[1])
        }

        private static func prepare(_ fd: Int32, nonBlocking: Bool) throws(Errno) {
            _ = try SystemCall.once { cselectors_fcntl_set(fd, F_SETFD, FD_CLOEXEC) }
            if nonBlocking { try Socket.setNonBlocking(fd) }
            var on: Int32 = 1
            _ = try SystemCall.once {
                setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
            }
        }
    }
#endif
