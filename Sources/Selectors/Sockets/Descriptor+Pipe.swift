internal import CSelectors

extension Descriptor {
    /// Creates a pipe whose two ends are close-on-exec and, by default, non-blocking:
    /// `pipe2(O_CLOEXEC | O_NONBLOCK)` on Linux, `pipe` then `fcntl` on Apple systems, which
    /// have no `pipe2`.
    ///
    /// Bytes written to `write` are read from `read`, in order. Once every copy of `write` is
    /// closed, `read` returns 0 after the last byte; once every copy of `read` is closed, a
    /// write raises `SIGPIPE` (see `ignoreBrokenPipeSignal()`).
    ///
    /// For a child process's standard input or output, pass `nonBlocking: false` (a program
    /// seldom expects a non-blocking stdout) and make only the parent's end non-blocking with
    /// `setNonBlocking(_:)`.
    /// - Returns: the read end and the write end.
    /// - Throws: `EMFILE`, `ENFILE`, ... Nothing is left open on failure.
    public static func makePipe(nonBlocking: Bool = true) throws(Errno) -> (read: Int32, write: Int32) {
        try DescriptorPlatform.makePipe(nonBlocking: nonBlocking)
    }

    /// Ignores `SIGPIPE` for the whole process (`signal(SIGPIPE, SIG_IGN)`), so that writing to
    /// a pipe, FIFO or pty nobody reads any more fails with `EPIPE` instead of killing the
    /// process.
    ///
    /// Only `Descriptor.write` to a pipe-like file needs this: `Socket.write` already stops the
    /// signal per call or per socket. It is the process's choice, so the library never does it
    /// on its own. Mind that an ignored `SIGPIPE` survives `exec`: child processes start with it
    /// ignored, and a filter such as `yes | head -1` then sees `EPIPE` instead of dying quietly.
    /// Restore the default in the child if that matters.
    public static func ignoreBrokenPipeSignal() {
        cselectors_ignore_sigpipe()
    }
}
