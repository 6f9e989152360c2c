import CSelectors
import Selectors
import Testing

/// `Socket.connect(to:timeout:)` on loopback TCP and Unix-domain sockets. A listener with a
/// backlog of 0 and one connection it never accepts is full: Linux then drops further SYNs
/// (the client keeps retrying, so its connect would hang) and refuses further Unix connects
/// with `EAGAIN`; that is how these tests reach the timeout without leaving loopback.
@Suite struct ConnectTimeoutTests {
    /// A listener whose accept queue is full: backlog 0 and one queued connection, which is
    /// returned too (close both).
    private static func fullListener(
        _ address: SocketAddress
    ) throws -> (listener: Int32, address: SocketAddress, queued: Int32) {
        let (listener, bound) = try Socket.makeListener(address: address, backlog: 0)
        let (queued, _) = try Socket.connect(to: bound)
        // Readable once the connection sits in the accept queue: from then on it is full.
        #expect(waitFor(listener))
        return (listener, bound, queued)
    }

    @Test(arguments: [false, true])
    func connectWithTimeoutToAListenerSucceedsAndHonoursNonBlocking(nonBlocking: Bool) throws {
        try withDescriptors { fds in
            let (listener, bound) = try Socket.makeListener(address: .ipv4Loopback(port: 0))
            fds.adopt(listener)
            let fd = fds.adopt(try Socket.connect(to: bound, timeout: .seconds(5), nonBlocking: nonBlocking))
            #expect(isNonBlocking(fd) == nonBlocking)
            #expect(isCloseOnExec(fd))
            #expect(try Socket.connectResult(fd) == nil)
            #expect(waitFor(listener))
            let server = fds.adopt(try #require(try Socket.accept(listener)))
            #expect(try SocketAddress.peer(of: server) == SocketAddress.local(of: fd))
        }
    }

    @Test func connectWithTimeoutToAClosedPortIsRefusedNotTimedOut() throws {
        let (listener, bound) = try Socket.makeListener(address: .ipv4Loopback(port: 0))
        Socket.close(listener)
        #expect(throws: Errno.connectionRefused) { try Socket.connect(to: bound, timeout: .seconds(5)) }
    }

    @Test func connectWithTimeoutToAFullTCPBacklogThrowsETIMEDOUTAfterAtLeastTheTimeout() throws {
        try withDescriptors { fds in
            let (listener, bound, queued) = try Self.fullListener(.ipv4Loopback(port: 0))
            fds.adopt(listener)
            fds.adopt(queued)
            let timeout = Duration.milliseconds(150)
            let start = monotonicNow()
            #expect(throws: Errno.timedOut) { try Socket.connect(to: bound, timeout: timeout) }
            #expect(monotonicNow() - start >= timeout)
        }
    }

    @Test func connectWithTimeoutToAFullUnixBacklogThrowsETIMEDOUTThenSucceedsOnceThereIsRoom() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try withDescriptors { fds in
            let (listener, bound, queued) = try Self.fullListener(try directory.socketAddress("full.sock"))
            fds.adopt(listener)
            fds.adopt(queued)
            let timeout = Duration.milliseconds(50)
            let start = monotonicNow()
            #expect(throws: Errno.timedOut) { try Socket.connect(to: bound, timeout: timeout) }
            #expect(monotonicNow() - start >= timeout)
            // Accepting the queued connection makes room.
            fds.adopt(try #require(try Socket.accept(listener)))
            let fd = fds.adopt(try Socket.connect(to: bound, timeout: .seconds(5)))
            #expect(!isNonBlocking(fd))
        }
    }

    @Test func zeroTimeoutToAFullBacklogTimesOutAtOnce() throws {
        try withDescriptors { fds in
            let (listener, bound, queued) = try Self.fullListener(.ipv4Loopback(port: 0))
            fds.adopt(listener)
            fds.adopt(queued)
            #expect(throws: Errno.timedOut) { try Socket.connect(to: bound, timeout: .zero) }
            #expect(throws: Errno.timedOut) { try Socket.connect(to: bound, timeout: .milliseconds(-5)) }
        }
    }

    @Test func connectWithTimeoutToAMissingUnixPathFailsWithENOENT() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(throws: Errno.noSuchFileOrDirectory) {
            try Socket.connect(to: try directory.socketAddress("nobody.sock"), timeout: .seconds(5))
        }
    }

    /// In a child process, where no other test opens descriptors.
    @Test func timedOutAndRefusedConnectsLeaveNoDescriptorOpen() async {
        await #expect(processExitsWith: .success) {
            guard
                let (listener, bound) = try? Socket.makeListener(address: .ipv4Loopback(port: 0), backlog: 0),
                let (queued, _) = try? Socket.connect(to: bound), waitFor(listener)
            else { exit(10) }
            let (closed, closedAddress) =
                (try? Socket.makeListener(address: .ipv4Loopback(port: 0))) ?? (-1, bound)
            Socket.close(closed)
            let before = openDescriptorCount()
            for _ in 0..<50 {
                do throws(Errno) {
                    _ = try Socket.connect(to: bound, timeout: .zero)
                    exit(11)
                } catch {
                    guard error == .timedOut else { exit(12) }
                }
                do throws(Errno) {
                    _ = try Socket.connect(to: closedAddress, timeout: .seconds(5))
                    exit(13)
                } catch {
                    guard error == .connectionRefused else { exit(14) }
                }
            }
            // A descriptor left open per attempt would show as 100 more. The test runtime in the
            // child opens one of its own now and then, so allow a couple.
            guard openDescriptorCount() - before <= 2 else { exit(15) }
            Socket.close(queued)
            Socket.close(listener)
            exit(0)
        }
    }
}
