internal import CSelectors

extension Socket {
    /// Opens a TCP or Unix-domain stream connection to `address`, giving up after `timeout`:
    /// a non-blocking `connect`, then `poll` for writability until the deadline, then
    /// `getsockopt(SO_ERROR)` for the outcome.
    ///
    /// A blocking `connect` to an unreachable TCP host can wait minutes (the kernel's SYN
    /// retries); this waits at most `timeout`, rounded up to the millisecond, resuming after
    /// `EINTR` with the time left. Zero or a negative timeout makes one attempt that succeeds
    /// only if the connection is established without waiting. A Unix-domain listener whose
    /// backlog is full refuses a non-blocking connect with `EAGAIN` rather than queueing it,
    /// and nothing can be polled for until it has room, so that case is retried with short
    /// sleeps (1 ms, doubling up to 16 ms) until the deadline.
    /// - Parameters:
    ///   - address: where to connect.
    ///   - timeout: the longest wait for the connection to be established.
    ///   - nonBlocking: leave the connected socket non-blocking (as an event loop wants);
    ///     by default it is made blocking again, like a plain `connect`'s.
    ///   - sourceAddress: a local address to bind first, as for `connect(to:nonBlocking:sourceAddress:)`.
    /// - Returns: the connected socket (close-on-exec, never raising `SIGPIPE`).
    /// - Throws: `ETIMEDOUT` (`Errno.timedOut`) when the deadline passes first;
    ///   `ECONNREFUSED`, `ENOENT` (no socket file), `EHOSTUNREACH`, ... as `connect` reports
    ///   them. The socket is closed on failure.
    public static func connect(
        to address: SocketAddress, timeout: Duration, nonBlocking: Bool = false,
        sourceAddress: SocketAddress? = nil
    ) throws(Errno) -> Int32 {
        let deadline = MonotonicClock.now() &+ (WaitTimeout(timeout)?.nanoseconds ?? 0)
        let (fd, pending) = try startConnecting(to: address, sourceAddress: sourceAddress, deadline: deadline)
        return try closing(fd) { () throws(Errno) in
            if pending { try waitForConnection(fd, deadline: deadline) }
            if !nonBlocking { try Descriptor.setNonBlocking(fd, false) }
            return fd
        }
    }

    /// A non-blocking connect; a Unix-domain `EAGAIN` (full backlog) is retried until
    /// `deadline`, each attempt with a fresh socket, since the failed one is closed.
    private static func startConnecting(
        to address: SocketAddress, sourceAddress: SocketAddress?, deadline: Int64
    ) throws(Errno) -> (fd: Int32, pending: Bool) {
        var pause: Int32 = 1
        while true {
            do {
                return try connect(to: address, nonBlocking: true, sourceAddress: sourceAddress)
            } catch  where error == .wouldBlock && address.family == .unix {
                let left = deadline - MonotonicClock.now()
                if left <= 0 { throw Errno.timedOut }
                let sleep = min(pause, WaitTimeout(nanoseconds: left).milliseconds)
                _ = poll(nil, 0, sleep)
                pause = min(pause * 2, 16)
            }
        }
    }

    /// Polls `fd` for writability (the end of a non-blocking connect, whatever its outcome)
    /// until `deadline`, then reads the outcome with `connectResult(_:)`.
    private static func waitForConnection(_ fd: Int32, deadline: Int64) throws(Errno) {
        while true {
            let left = deadline - MonotonicClock.now()
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&entry, 1, left > 0 ? WaitTimeout(nanoseconds: left).milliseconds : 0)
            if ready < 0 {
                let error = Errno.current
                if error == .interrupted { continue }
                throw error
            }
            if ready == 0 {
                // poll rounds up to whole milliseconds, so "no time left" is checked here
                // rather than trusted to the call: an early return is waited out again.
                if deadline - MonotonicClock.now() <= 0 { throw Errno.timedOut }
                continue
            }
            if let failure = try connectResult(fd) { throw failure }
            return
        }
    }
}
