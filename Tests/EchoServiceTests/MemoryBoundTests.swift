import CSelectors
import EchoService
import Selectors
import Testing

/// What clients that never read can cost the server: the server-wide cap on pending output,
/// and memory given back afterwards. In-process servers on every backend.
// Five minutes: the limit counts the wait for a thread, and under ThreadSanitizer these
// synchronous tests queue behind hundreds of others for the pool's two threads (a tighter
// limit was hit in CI while the test itself takes seconds).
@Suite(.timeLimit(.minutes(5)))
struct MemoryBoundTests {
    /// Guards against a crowd of never-reading clients each holding its own high-water mark
    /// (150 of them took 52-88 MB, with nothing capping the sum). Two loops, so the stop and
    /// the resume cross threads; a client that arrives while reading is stopped is served
    /// once the others leave.
    @Test(arguments: Backend.available)
    func neverReadersTogetherCannotPushPendingBytesPastTheTotalHighWaterMark(backend: Backend) throws {
        let totalHighWaterMark = 192 * 1024
        let threads = 2
        let server = try startServer(backend) {
            $0.threads = threads
            $0.highWaterMark = 64 * 1024
            $0.lowWaterMark = 16 * 1024
            $0.totalHighWaterMark = totalHighWaterMark
            $0.totalLowWaterMark = 96 * 1024
        }
        defer { server.stop() }
        let sockets = ClientSockets()
        defer { sockets.closeAll() }
        let pattern = Pattern()

        // Each never-reader pushes until its own connection pauses or reading stops server-wide;
        // each alone may hold a buffer of up to 128 KiB, so a few of them pass the total.
        var neverReaders: [Int32] = []
        while server.statistics.totalReadPauses == 0 {
            guard neverReaders.count < 16 else {
                Issue.record("16 never-readers did not stop the server: \(server.statistics)")
                return
            }
            let fd = try sockets.connect(server.address)
            Client.shrinkBuffers(fd)
            neverReaders.append(fd)
            let pauses = server.statistics.readPauses
            _ = try Client.write(fd, pattern) {
                let statistics = server.statistics
                return statistics.readPauses > pauses || statistics.totalReadPauses > 0
            }
        }
        let stopped = server.statistics
        // One buffer's growth per loop may be under way when the sum passes the mark: at most
        // a buffer's largest size (the high-water mark plus a read, rounded to a page).
        #expect(stopped.peakOutputBufferBytes > totalHighWaterMark)
        #expect(
            stopped.peakOutputBufferBytes <= totalHighWaterMark + threads * (128 * 1024 + 4096),
            "peak total \(stopped.peakOutputBufferBytes)")

        // A newcomer is not read while the total is above the mark; its echo comes once the
        // never-readers leave and the total drains.
        let newcomer = try sockets.connect(server.address)
        var message = Array("served after the crowd left".utf8)
        _ = try message.withUnsafeBytes { try Socket.write(newcomer, from: $0) }
        for fd in neverReaders { sockets.close(fd) }
        #expect(eventually { server.statistics.pendingBytes == 0 })
        try message.withUnsafeMutableBytes { bytes in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
            defer { buffer.deallocate() }
            var received = 0
            while received < bytes.count {
                guard
                    let count = try Socket.read(
                        newcomer, into: UnsafeMutableRawBufferPointer(rebasing: buffer[received...])),
                    count > 0
                else { throw TestFailure("the newcomer's echo never came") }
                received += count
            }
            #expect(memcmp(buffer.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        }
        try Client.roundTrip(server.address)
        #expect(server.statistics.outputBufferBytes == 0)
    }

    /// Guards against freed output buffers staying with the allocator for good (the idle
    /// RSS stayed near 30 MB after a burst): once a loop has nothing pending after freeing
    /// at least 1 MiB of buffers, it trims the heap.
    @Test(arguments: Backend.available)
    func memoryIsGivenBackOnceNothingIsPending(backend: Backend) throws {
        let server = try startServer(backend)
        defer { server.stop() }
        let sockets = ClientSockets()
        defer { sockets.closeAll() }
        let pattern = Pattern()
        // Six never-readers at the default high-water mark hold about 2 MB of buffers.
        var neverReaders: [Int32] = []
        for _ in 0..<6 {
            let fd = try sockets.connect(server.address)
            Client.shrinkBuffers(fd)
            neverReaders.append(fd)
            let pauses = server.statistics.readPauses
            _ = try Client.write(fd, pattern) { server.statistics.readPauses > pauses }
        }
        #expect(server.statistics.outputBufferBytes > 1 << 20)
        #expect(server.statistics.memoryTrims == 0)
        for fd in neverReaders { sockets.close(fd) }
        #expect(eventually { server.statistics.memoryTrims == 1 })
        let statistics = server.statistics
        #expect(statistics.outputBufferBytes == 0)
        #expect(statistics.pendingBytes == 0)
        try Client.roundTrip(server.address)
    }

    @Test func totalWaterMarksAreValidated() {
        var configuration = EchoServer.Configuration()
        configuration.port = 0
        configuration.totalHighWaterMark = 0
        #expect(throws: EchoServerError.self) { try EchoServer.start(configuration) }
        configuration.totalHighWaterMark = 1 << 20
        configuration.totalLowWaterMark = 1 << 20
        #expect(throws: EchoServerError.self) { try EchoServer.start(configuration) }
    }
}
