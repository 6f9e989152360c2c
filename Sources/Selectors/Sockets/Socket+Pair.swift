internal import CSelectors

extension Socket {
    /// Creates a pair of connected Unix-domain stream sockets (`socketpair(AF_UNIX,
    /// SOCK_STREAM)`), both close-on-exec and never raising `SIGPIPE`, and by default
    /// non-blocking: a two-way pipe between threads, or between a parent and a child process
    /// (pass `nonBlocking: false` for the child's end and set the parent's with
    /// `Descriptor.setNonBlocking(_:_:)`).
    ///
    /// Unlike a pipe, both ends read and write, `shutdownWrite(_:)` half-closes one direction,
    /// and `Socket.write` works on either end.
    /// - Throws: `EMFILE`, `ENFILE`, ... Nothing is left open on failure.
    public static func makePair(nonBlocking: Bool = true) throws(Errno) -> (Int32, Int32) {
        try SocketPlatform.makeStreamPair(nonBlocking: nonBlocking)
    }
}
