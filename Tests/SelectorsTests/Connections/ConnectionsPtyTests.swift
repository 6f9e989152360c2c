import CSelectors
import Selectors
import Testing

#if canImport(Glibc)
    import Glibc  // termios
#elseif canImport(Darwin)
    import Darwin
#endif

/// A pty's controlling side (a terminal emulator's, an `expect`'s) as a `Connections`
/// connection, which the type's documentation lists among the fds it serves. On Linux its
/// read fails with `EIO` once the other side is closed, where a pipe or socket reads 0: the
/// library's own `Descriptor.read` says to treat that as end of stream.
@Suite(.enabled(if: DescriptorTests.ptysAvailable, "no /dev/ptmx with Linux pty ioctls here"))
struct ConnectionsPtyTests {
    /// The controlling side of a new pty and its other side, raw (no echo, no line editing),
    /// both non-blocking and owned by `fds`.
    private func openPty(_ fds: OpenDescriptors) throws -> (controlling: Int32, terminal: Int32) {
        let (controlling, terminal) = try #require(DescriptorTests.openPty())
        fds.adopt(controlling)
        fds.adopt(terminal)
        var settings = termios()
        tcgetattr(terminal, &settings)
        cfmakeraw(&settings)
        tcsetattr(terminal, TCSANOW, &settings)
        return (controlling, terminal)
    }

    @Test(arguments: Backend.available, connectionTriggers)
    func aPtyWhoseOtherSideClosesEndsLikeAPeerThatClosed(backend: Backend, trigger: Trigger) throws {
        try withDescriptors { fds in
            let (controlling, terminal) = try openPty(fds)
            try withConnections(backend: backend, options: connectionOptions(trigger)) {
                loop, connections, log in
                let connection = try fds.handOver(controlling, to: connections)
                try writeAll(terminal, "bye")
                fds.close(terminal)  // the child exits
                try runOnceUntil(loop) { log.end(of: connection) != nil }
                #expect(log.bytes[connection] == Array("bye".utf8))
                #expect(
                    log.notices(of: connection) == [.endOfInput, .closed(.peerClosed)],
                    "\(log.notices(of: connection))")
                #expect(connections.counters.snapshot.otherFailures == 0)
            }
        }
    }

    /// With `halfClose`, the owner can still answer after the other side's end: here, it
    /// cannot (the pty is gone), but it must hear `.endOfInput` rather than an error.
    @Test(arguments: Backend.available)
    func aPtyEndTellsEndOfInputToAHalfClosingOwner(backend: Backend) throws {
        try withDescriptors { fds in
            let (controlling, terminal) = try openPty(fds)
            let options = connectionOptions(.level) { $0.halfClose = true }
            try withConnections(backend: backend, options: options) { loop, connections, log in
                let connection = try fds.handOver(controlling, to: connections)
                fds.close(terminal)
                try runOnceUntil(loop) { !log.notices(of: connection).isEmpty }
                #expect(log.notices(of: connection).first == .endOfInput, "\(log.notices(of: connection))")
            }
        }
    }

    /// The async API on the same pty: reading to the end returns what was written, then end
    /// of stream (an empty read), not a thrown `EIO`.
    @Test(arguments: Backend.available)
    func anAsyncConnectionOnAPtyReadsToTheEndWhenTheOtherSideCloses(backend: Backend) async throws {
        let fds = OpenDescriptors()
        defer { fds.closeAll() }
        let (controlling, terminal) = try openPty(fds)
        try await withLoopThread(backend) { thread in
            fds.forget(controlling)
            let connection = try await AsyncConnection.adopt(controlling, on: thread.loop)
            try writeAll(terminal, "bye")
            fds.close(terminal)
            let reading = Task(executorPreference: thread.loop) { try await readToEnd(connection) }
            let result = await outcome(of: reading, within: .seconds(20))
            switch result {
            case .success(let bytes): #expect(bytes == Array("bye".utf8))
            default: Issue.record("read to the end: \(String(describing: result))")
            }
            connection.close()
        }
    }
}
