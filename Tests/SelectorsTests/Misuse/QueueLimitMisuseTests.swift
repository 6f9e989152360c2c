import CSelectors
import Selectors
import Synchronization
import Testing

/// Sizes: writes beyond what one connection queues, reads into nothing. See `Misuse`.
@Suite(.timeLimit(.minutes(2)))
struct QueueLimitMisuseTests {
    /// A write that would leave more queued than a connection's 32-bit queue holds (2^32 - 17
    /// bytes) is refused whole before anything is sent, whether the queue is empty or not; the
    /// connection goes on. The source is untouched zero pages: address space, no memory.
    @Test func aWriteBeyondWhatAConnectionQueuesIsRefusedWhole() throws {
        try withDescriptors { fds in
            let (ours, peer) = try fds.socketPair()
            try fds.shrinkSendBuffer(ours)
            try withConnections(backend: .default, options: Connections.Options()) { _, connections, _ in
                let connection = try fds.handOver(ours, to: connections)
                let huge = try untouchedPages(Misuse.queueLimit + 1)
                defer { unmap(huge) }
                expectInvalidArgument(
                    selectorError { try connection.write(huge) }, .write, fd: ours,
                    mentioning: "at most \(Misuse.queueLimit) bytes")
                #expect(connection.pendingOutputCount == 0 && connection.isOpen)
                try connection.write("ok")
                var received = [UInt8](repeating: 0, count: 16)
                let count = try received.withUnsafeMutableBytes { try Socket.read(peer, into: $0) }
                #expect(
                    count == 2 && Array(received.prefix(2)) == Array("ok".utf8), "nothing refused was sent")

                // With bytes queued (the peer reads nothing more), what counts is the sum: here
                // one byte past the limit.
                try connection.write([UInt8](repeating: 7, count: 256 * 1024))
                let pending = connection.pendingOutputCount
                #expect(pending > 0)
                let beyond = UnsafeRawBufferPointer(rebasing: huge[..<(Misuse.queueLimit - pending + 1)])
                expectInvalidArgument(
                    selectorError { try connection.write(beyond) }, .write, fd: ours,
                    mentioning: "at most \(Misuse.queueLimit) bytes")
                #expect(connection.pendingOutputCount == pending && connection.isOpen)
                try connection.write("ok")
                #expect(connection.pendingOutputCount == pending + 2)
            }
        }
    }

    @Test func anAsyncWriteBeyondWhatAConnectionQueuesIsRefusedWhole() async throws {
        try await withAdoptedConnection(.default) { _, connection, peer in
            let ours = connection.fd
            defer { connection.abort() }
            let huge = try untouchedPages(Misuse.queueLimit + 1)
            defer { unmap(huge) }
            let error = await asyncError { try await connection.write(huge) }
            expectInvalidArgument(error, .write, fd: ours, mentioning: "at most \(Misuse.queueLimit) bytes")
            try await connection.write("ok")
            #expect(try await Peer.read(peer, count: 2) == Array("ok".utf8), "nothing refused was sent")
        }
    }

    /// A read into an empty buffer, or of at most 0 bytes, could only return what means end
    /// of stream: it throws at once, and the bytes waiting stay for the next read.
    @Test func asyncReadsOfNothingThrowAndLoseNoData() async throws {
        try await withAdoptedConnection(.default) { _, connection, peer in
            let ours = connection.fd
            defer { connection.abort() }
            try await Peer.write(peer, "hello")
            let errors = try await within { () -> [(any Error)?] in
                let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
                defer { storage.deallocate() }
                var errors: [(any Error)?] = []
                for empty in [
                    UnsafeMutableRawBufferPointer(start: nil, count: 0), .init(rebasing: storage[0..<0]),
                ] {
                    errors.append(await asyncError { _ = try await connection.read(into: empty) })
                }
                for maximum in [0, -1, Int.min] {
                    errors.append(await asyncError { _ = try await connection.read(upTo: maximum) })
                }
                return errors
            }
            #expect(errors.count == 5)
            for error in errors.prefix(2) {
                expectInvalidArgument(error, .read, fd: ours, mentioning: "buffer is empty")
            }
            for error in errors.dropFirst(2) {
                expectInvalidArgument(error, .read, fd: ours, mentioning: "maximum must be above 0")
            }
            let bytes = try await within { try await connection.read(upTo: 100) }
            #expect(bytes == Array("hello".utf8), "the waiting bytes were lost: got \(bytes)")
        }
    }
}
