#if os(Linux)
    import CSelectors
    import Selectors

    /// Rotates outgoing connections over the source addresses 127.0.0.1 ... 127.0.0.250 when
    /// the target is on IPv4 loopback.
    ///
    /// Each closed client connection leaves its (source, port) pair in `TIME_WAIT` for a minute;
    /// from one source address a connect-per-cycle run would exhaust the ~28,000 ephemeral
    /// ports in seconds. Linux treats all of 127.0.0.0/8 as local, so 250 sources multiply the
    /// supply. Port 0 lets the kernel pick (at connect time, see `Socket.connect`).
    struct SourceAddresses {
        private let sources: [SocketAddress]
        private var next: Int

        /// `start` staggers threads so they do not walk the list in lockstep.
        init(target: SocketAddress, start: Int) {
            if target.isIPv4Loopback {
                sources = (1...250).map { try! SocketAddress(host: "127.0.0.\($0)", port: 0) }
            } else {
                sources = []
            }
            next = sources.isEmpty ? 0 : start % sources.count
        }

        /// The source for the next connection, or `nil` to let the kernel choose.
        @inline(__always)
        mutating func take() -> SocketAddress? {
            guard !sources.isEmpty else { return nil }
            let source = sources[next]
            next = next + 1 == sources.count ? 0 : next + 1
            return source
        }
    }

    /// Opens a connection and waits at most `timeoutMilliseconds` for the handshake, so a
    /// stalled server cannot hang set-up. Returns a non-blocking socket.
    func connectWithin(
        _ target: SocketAddress, source: SocketAddress?, timeoutMilliseconds: Int32
    ) throws(Errno) -> Int32 {
        let (fd, pending) = try Socket.connect(to: target, nonBlocking: true, sourceAddress: source)
        guard pending else { return fd }
        var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&entry, 1, timeoutMilliseconds)
        let failure: Errno?
        if ready == 1 {
            do { failure = try Socket.connectResult(fd) } catch { failure = error }
        } else {
            failure = ready == 0 ? .timedOut : Errno(rawValue: cselectors_errno())
        }
        if let failure {
            Socket.close(fd)
            throw failure
        }
        return fd
    }
#endif
