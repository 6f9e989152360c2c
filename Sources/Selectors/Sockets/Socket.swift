internal import CSelectors

/// Thin socket helpers over raw file descriptors, each a documented wrapper of one or two
/// system calls: TCP and Unix-domain streams (listen, accept, connect, with or without a
/// timeout, socket pairs), UDP and Unix datagrams (bind, send to and receive from an address),
/// and the options an event-driven server sets. `Descriptor` has what works on any fd
/// (pipes, ptys, files).
///
/// Every socket created here is close-on-exec. Calls that are safe to repeat retry `EINTR`;
/// `close` never does. Errors are thrown as `Errno`; "would block" is not an error but a `nil`
/// result, since non-blocking code meets it all the time.
///
/// ```swift
/// let (listener, address) = try Socket.makeListener(address: .ipv4Loopback(port: 0))
/// let (client, _) = try Socket.connect(to: address)
/// let server = try Socket.accept(listener)   // nil until the connection is queued
/// ```
public enum Socket {
    /// Closes `fd` (`close`), ignoring errors: on Linux the descriptor is gone even when
    /// `close` reports `EINTR` or `EIO`, so there is nothing useful to do with them, and
    /// retrying could close a descriptor another thread has just been given.
    public static func close(_ fd: Int32) {
        SystemCall.close(fd)
    }

    /// Aborts the connection: sets `SO_LINGER` to zero, then closes `fd`, so the kernel
    /// discards unsent data and sends a reset (RST) instead of the orderly FIN. The peer's
    /// next `read` fails with `ECONNRESET` and its `write` with `EPIPE` or `ECONNRESET`.
    public static func reset(_ fd: Int32) {
        try? setLinger0(fd)
        SystemCall.close(fd)
    }

    /// Creates a stream socket for `family`: `socket(AF_INET, AF_INET6 or AF_UNIX,
    /// SOCK_STREAM, 0)`, close-on-exec, optionally non-blocking, never raising `SIGPIPE`.
    static func makeStream(_ family: SocketAddress.Family, nonBlocking: Bool) throws(Errno) -> Int32 {
        try SocketPlatform.makeStreamSocket(family: family.domain, nonBlocking: nonBlocking)
    }

    /// Runs `body`, closing `fd` if it throws: the cleanup for multi-step socket setup.
    static func closing<Result>(_ fd: Int32, _ body: () throws(Errno) -> Result) throws(Errno) -> Result {
        do {
            return try body()
        } catch {
            SystemCall.close(fd)
            throw error
        }
    }
}
