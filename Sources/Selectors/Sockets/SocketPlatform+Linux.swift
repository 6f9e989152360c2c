#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// The Linux side of the socket helpers: every place where Linux and the BSDs differ.
    ///
    /// Linux creates and accepts sockets with their flags in one call (`SOCK_CLOEXEC`,
    /// `SOCK_NONBLOCK`, `accept4`), so no other thread can `fork`/`exec` between creation and
    /// `fcntl` and leak the descriptor; it stops `SIGPIPE` per call with `MSG_NOSIGNAL`.
    enum SocketPlatform {
        /// `SOCK_STREAM`: an enum case in glibc's headers, hence the conversion.
        static let streamType = Int32(SOCK_STREAM.rawValue)

        /// Flags for `send`: `MSG_NOSIGNAL`, so writing to a reset connection returns `EPIPE`
        /// instead of killing the process with `SIGPIPE`.
        /// Computed, not stored: a stored static would cost a lazy-initialisation check per send.
        static var sendFlags: Int32 { Int32(MSG_NOSIGNAL) }

        /// `SHUT_WR`, an anonymous enum constant in glibc.
        static let shutWrite = Int32(SHUT_WR)

        /// The option for the silence before the first keepalive probe: `TCP_KEEPIDLE`.
        static var keepAliveIdle: Int32 { TCP_KEEPIDLE }

        /// `socket(family, SOCK_STREAM | SOCK_CLOEXEC [| SOCK_NONBLOCK], 0)`.
        static func makeStreamSocket(family: Int32, nonBlocking: Bool) throws(Errno) -> Int32 {
            var type = streamType | Int32(SOCK_CLOEXEC.rawValue)
            if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
            return try SystemCall.once { socket(family, type, 0) }
        }

        /// `accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)`, once; the caller decides on
        /// `EINTR` and `EAGAIN`.
        @inline(__always)
        static func acceptOnce(_ fd: Int32) -> Int32 {
            cselectors_accept4(fd, nil, nil, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
        }

        /// Before binding an IPv4 source address with port 0 for an outgoing connection, asks
        /// Linux to pick the port at `connect` time (`IP_BIND_ADDRESS_NO_PORT`). The port is then
        /// chosen per destination, so many clients bound to one source address share the
        /// ephemeral range instead of each holding a port for good; failure is harmless (old
        /// kernels), the port is then chosen at `bind` as usual.
        static func deferPortChoice(_ fd: Int32, for source: SocketAddress) {
            guard source.family == .ipv4, source.port == 0 else { return }
            var on: Int32 = 1
            _ = setsockopt(
                fd, Int32(IPPROTO_IP), IP_BIND_ADDRESS_NO_PORT, &on, socklen_t(MemoryLayout<Int32>.size))
        }

        /// Linux's `sockaddr` has no length byte: nothing to stamp.
        @inline(__always)
        static func stampLength(_ storage: inout sockaddr_storage, _ length: socklen_t) {}

        /// `SOCK_DGRAM`: an enum case in glibc's headers, like `SOCK_STREAM`.
        static let datagramType = Int32(SOCK_DGRAM.rawValue)

        /// A `sun_path` starting with NUL is an abstract name (`SocketAddress+Linux.swift`).
        static var hasAbstractUnixNames: Bool { true }

        /// `socket(family, type | SOCK_CLOEXEC [| SOCK_NONBLOCK], 0)`, for any type.
        static func makeSocket(family: Int32, type: Int32, nonBlocking: Bool) throws(Errno) -> Int32 {
            var flags = type | Int32(SOCK_CLOEXEC.rawValue)
            if nonBlocking { flags |= Int32(SOCK_NONBLOCK.rawValue) }
            return try SystemCall.once { socket(family, flags, 0) }
        }

        /// `socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC [| SOCK_NONBLOCK], 0)`.
        static func makeStreamPair(nonBlocking: Bool) throws(Errno) -> (Int32, Int32) {
            var flags = streamType | Int32(SOCK_CLOEXEC.rawValue)
            if nonBlocking { flags |= Int32(SOCK_NONBLOCK.rawValue) }
            var ends: [Int32] = [-1, -1]
            _ = try SystemCall.once { socketpair(AF_UNIX, flags, 0, &ends) }
            return (ends[0], ends[1])
        }
    }
#endif
