import CSelectors
import Selectors
import Testing

/// `AsyncConnection` on real Unix-domain and TCP sockets and pipes, on every backend: the
/// three ways to read, writes with backpressure, cancellation of waiting calls, half-close,
/// close, abort and the loop's closing.
@Suite(.timeLimit(.minutes(2)), .aheadOfBlockingTests)
struct AsyncConnectionTests {
    // MARK: Moving bytes

    /// 4 MiB through an echo task on the loop and back, every byte checked; the peer's
    /// half-close ends the echo, which closes in turn.
    @Test(arguments: Backend.available, Transport.allCases)
    func anEchoTaskReturnsSeveralMegabytesExactly(backend: Backend, transport: Transport) async throws {
        try await withAdoptedConnection(backend, over: transport) { loop, connection, peer in
            let echoing = Task(executorPreference: loop) { try await echo(connection) }
            let message = patternBytes(4 << 20, seed: 3)
            let writer = Task {
                try await Peer.write(peer, message)
                try Socket.shutdownWrite(peer)
            }
            let echoed = try await within(.seconds(60)) { try await Peer.read(peer, count: message.count) }
            try await finish(writer)
            #expect(sameBytes(echoed, message))
            #expect(try await finish(echoing) == message.count)
            let end = try await within { try await Peer.readToEnd(peer) }
            #expect(end.bytes.isEmpty && !end.reset)
        }
    }

    /// Two connections, each on a loop of its own, talk through a socket pair: one writes
    /// 2 MiB (suspending in `write` whenever its output is full) and half-closes; the other
    /// reads with `read(into:)` from a task elsewhere (on a third loop, so that its hundreds of
    /// hops there and back need no thread of the cooperative pool) until end of stream.
    @Test(arguments: Backend.available, Transport.allCases)
    func twoLoopsStreamMegabytesWithWriteAndReadInto(backend: Backend, transport: Transport) async throws {
        let writerThread = try EventLoopThread(name: "writer", backend: backend)
        let readerThread = try EventLoopThread(name: "reader", backend: backend)
        let elsewhere = try EventLoopThread(name: "elsewhere", backend: backend)
        defer {
            for thread in [writerThread, readerThread, elsewhere] { thread.shutdown() }
        }
        let (a, b) = try transport.makePair()
        let sending = try await AsyncConnection.adopt(a, on: writerThread.loop)
        let receiving = try await AsyncConnection.adopt(b, on: readerThread.loop)
        let message = patternBytes(2 << 20, seed: 5)
        let writer = Task(executorPreference: writerThread.loop) {
            // Half the writes from an array, half from raw memory.
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: message.count, alignment: 1)
            defer { raw.deallocate() }
            raw.copyBytes(from: message)
            var offset = 0
            var writes = 0
            while offset < message.count {
                let end = min(message.count, offset + 48 * 1024 + offset % 977)
                if writes.isMultiple(of: 2) {
                    try await sending.write(Array(message[offset..<end]))
                } else {
                    try await sending.write(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                }
                offset = end
                writes += 1
            }
            sending.shutdownOutput()
        }
        let received = try await within(.seconds(60), on: elsewhere.loop) { () -> [UInt8] in
            var bytes: [UInt8] = []
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 10_000, alignment: 1)
            defer { buffer.deallocate() }
            while true {
                let count = try await receiving.read(into: buffer)
                if count == 0 { return bytes }
                bytes += UnsafeRawBufferPointer(rebasing: buffer[..<count]).bindMemory(to: UInt8.self)
            }
        }
        try await finish(writer)
        #expect(received.count == message.count)
        #expect(sameBytes(received, message))
        sending.close()
        receiving.close()
    }

    /// `read(upTo:)` returns at most the maximum and leaves the rest to the next read.
    @Test(arguments: Backend.available, [true, false])
    func readUpToReturnsAtMostTheMaximumAndKeepsTheRest(backend: Backend, onLoop: Bool) async throws {
        try await withAdoptedConnection(backend) { loop, connection, peer in
            let message = patternBytes(1000, seed: 9)
            try await Peer.write(peer, message)
            let chunks = try await within(on: onLoop ? loop : nil) { () -> [[UInt8]] in
                var chunks: [[UInt8]] = []
                var total = 0
                while total < message.count {
                    let chunk = try await connection.read(upTo: 300)
                    chunks.append(chunk)
                    total += chunk.count
                }
                return chunks
            }
            #expect(chunks.allSatisfy { $0.count <= 300 }, "\(chunks.map(\.count))")
            #expect(chunks.joined().elementsEqual(message), "\(chunks.map(\.count))")
            connection.close()
        }
    }

    /// `read(into:)` with a buffer smaller than what arrived fills it and leaves the rest.
    @Test(arguments: Backend.available)
    func readIntoASmallBufferTakesWhatFitsAndLeavesTheRest(backend: Backend) async throws {
        try await withAdoptedConnection(backend) { loop, connection, peer in
            let message = patternBytes(100, seed: 1)
            try await Peer.write(peer, message)
            let counts = try await within(on: loop) { () -> [Int] in
                var counts: [Int] = []
                var bytes: [UInt8] = []
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 30, alignment: 1)
                defer { buffer.deallocate() }
                while bytes.count < 100 {
                    let count = try await connection.read(into: buffer)
                    counts.append(count)
                    bytes += UnsafeRawBufferPointer(rebasing: buffer[..<count]).bindMemory(to: UInt8.self)
                }
                #expect(bytes == message)
                return counts
            }
            #expect(counts == [30, 30, 30, 10])
            connection.close()
        }
    }

    /// `inbound` yields the chunks as they come and ends at the peer's end of stream; the
    /// zero-copy read returns 0 there without calling its body.
    @Test(arguments: Backend.available, [true, false])
    func inboundYieldsEveryChunkUntilEndOfStream(backend: Backend, onLoop: Bool) async throws {
        try await withAdoptedConnection(backend) { loop, connection, peer in
            let reader = Task(executorPreference: onLoop ? loop : nil) { () -> ([UInt8], Int, Bool) in
                var bytes: [UInt8] = []
                var chunks = 0
                for try await chunk in connection.inbound {
                    #expect(!chunk.isEmpty)
                    bytes += chunk
                    chunks += 1
                }
                var called = false
                let count = try await connection.read { _ in called = true }
                #expect(count == 0)
                return (bytes, chunks, called)
            }
            var sent: [UInt8] = []
            for index in 0..<5 {
                let piece = patternBytes(1 + index * 7_000, seed: index)
                try await Peer.write(peer, piece)
                sent += piece
                try await Task.sleep(for: .milliseconds(5))
            }
            try Socket.shutdownWrite(peer)
            let (bytes, chunks, called) = try await finish(reader)
            #expect(bytes == sent)
            #expect(chunks >= 1)
            #expect(!called)
            connection.close()
        }
    }

    // MARK: Backpressure

    /// A peer that does not read: `write` sends what the kernel takes, queues the rest and
    /// waits while the queue is above the high-water mark (observable: the task has not
    /// finished, `pendingOutputCount` stays where it is); once the peer reads, the queue
    /// drains and `write` returns. Every byte arrives, in order.
    @Test(arguments: Backend.available, [true, false])
    func writeSuspendsWhileThePeerDoesNotReadAndResumesWhenItReads(backend: Backend, onLoop: Bool)
        async throws
    {
        try await withBackpressuredConnection(backend) { loop, pool, connection, peer in
            let message = patternBytes(1 << 20, seed: 11)
            let writer = Task(executorPreference: onLoop ? loop : nil) {
                try await connection.write(message)
                return try await pendingOutput(connection)
            }
            try await until("the writer waiting") { try await waiterCount(pool) == 1 }
            let pending = try await pendingOutput(connection)
            #expect(pending > 64 * 1024, "\(pending) bytes queued")
            #expect(await race(writer, .milliseconds(50)) == nil, "write returned while the queue was full")
            #expect(try await pendingOutput(connection) == pending, "the queue moved while nobody read")
            let received = try await within { try await Peer.read(peer, count: message.count) }
            #expect(sameBytes(received, message))
            let pendingAfterwards = try await finish(writer)
            #expect(pendingAfterwards <= 16 * 1024)
            #expect(try await waiterCount(pool) == 0)
            connection.close()
        }
    }

    /// Many small writes into a slow peer: the writer is held back, so what is queued never
    /// goes much past the high-water mark.
    @Test(arguments: Backend.available)
    func manySmallWritesNeverQueueMuchMoreThanTheHighWaterMark(backend: Backend) async throws {
        try await withBackpressuredConnection(backend) { loop, pool, connection, peer in
            let message = patternBytes(2 << 20, seed: 13)
            // From another loop (hundreds of hops: none through the cooperative pool).
            let elsewhere = try EventLoopThread(name: "elsewhere", backend: backend)
            defer { elsewhere.shutdown() }
            let writer = Task(executorPreference: elsewhere.loop) {
                for start in stride(from: 0, to: message.count, by: 8 * 1024) {
                    try await connection.write(Array(message[start..<min(message.count, start + 8 * 1024)]))
                }
            }
            // The reader starts once something had to be queued: a writer slowed down enough
            // (ThreadSanitizer on a loaded machine, hundreds of hops) once never outran it,
            // and nothing was ever queued.
            let counters = pool.counters
            try await within(awaitLimit, "a first queued byte") {
                while counters.snapshot.peakPendingBytes == 0 { try await Task.sleep(for: .milliseconds(1)) }
            }
            // A slow reader: 16 KiB at a time, a pause after each.
            let received = try await Peer.read(
                peer, count: message.count, chunk: 16 * 1024, pause: .microseconds(200))
            try await finish(writer)
            #expect(sameBytes(received, message))
            let peak = pool.counters.snapshot.peakPendingBytes
            #expect(peak > 0 && peak <= 64 * 1024 + 8 * 1024, "peak queue \(peak)")
            connection.close()
        }
    }

    // MARK: Cancellation

    @Test(arguments: Backend.available, [true, false])
    func cancellingAWaitingReadLeavesTheConnectionUsable(backend: Backend, onLoop: Bool) async throws {
        try await withPooledConnection(backend) { loop, pool, connection, peer in
            for _ in 0..<3 {
                let reader = Task(executorPreference: onLoop ? loop : nil) {
                    try await connection.read(upTo: 100)
                }
                try await until("the reader waiting") { try await waiterCount(pool) == 1 }
                reader.cancel()
                #expect(wasCancelled(await outcome(of: reader)))
                #expect(try await waiterCount(pool) == 0)
                #expect(try await isOpen(connection))
            }
            try await Peer.write(peer, "still here")
            let after = try await within(on: onLoop ? loop : nil) { try await connection.read(upTo: 100) }
            #expect(after == Array("still here".utf8))
            connection.close()
            #expect(try await within { try await Peer.readToEnd(peer) }.bytes.isEmpty)
        }
    }

    /// Cancelling a write waiting for the queue to drain: it throws `CancellationError`, what
    /// it queued is still delivered, and the connection takes more writes.
    @Test(arguments: Backend.available, [true, false])
    func cancellingAWaitingWriteLeavesTheConnectionUsable(backend: Backend, onLoop: Bool) async throws {
        try await withBackpressuredConnection(backend) { loop, pool, connection, peer in
            let message = patternBytes(512 * 1024, seed: 17)
            let writer = Task(executorPreference: onLoop ? loop : nil) { try await connection.write(message) }
            try await until("the writer waiting") { try await waiterCount(pool) == 1 }
            writer.cancel()
            #expect(wasCancelled(await outcome(of: writer)))
            #expect(try await waiterCount(pool) == 0)
            let tail = Array("and the tail".utf8)
            let reader = Task { try await Peer.read(peer, count: message.count + tail.count) }
            try await within(on: onLoop ? loop : nil) { try await connection.write(tail) }
            #expect(sameBytes(try await finish(reader, within: awaitLimit), message + tail))
            connection.close()
        }
    }

    /// A task already cancelled when it calls `read` (and nothing to read) or `write` (with
    /// the queue full): both throw `CancellationError` at once rather than wait, and the
    /// connection stays usable.
    @Test(arguments: Backend.available, [true, false])
    func callsOfATaskCancelledBeforehandThrowAtOnce(backend: Backend, onLoop: Bool) async throws {
        try await withBackpressuredConnection(backend) { loop, pool, connection, peer in
            let reader = Task(executorPreference: onLoop ? loop : nil) {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await connection.read(upTo: 100)
            }
            #expect(wasCancelled(await outcome(of: reader)))
            let message = patternBytes(256 * 1024, seed: 19)
            let writer = Task(executorPreference: onLoop ? loop : nil) {
                withUnsafeCurrentTask { $0?.cancel() }
                try await connection.write(message)
            }
            #expect(wasCancelled(await outcome(of: writer)))
            #expect(try await waiterCount(pool) == 0)
            // What the cancelled write queued still arrives; reading works.
            #expect(
                sameBytes(
                    try await within { try await Peer.read(peer, count: message.count) },
                    message))
            try await Peer.write(peer, "ok")
            #expect(try await within { try await connection.read(upTo: 10) } == Array("ok".utf8))
            connection.close()
        }
    }

    // MARK: Ending

    /// `shutdownOutput`: the peer reads what was written, then end of stream; reading goes on.
    @Test(arguments: Backend.available, Transport.allCases)
    func shutdownOutputEndsOurSideAndReadingGoesOn(backend: Backend, transport: Transport) async throws {
        try await withAdoptedConnection(backend, over: transport) { _, connection, peer in
            try await within { try await connection.write("last words") }
            connection.shutdownOutput()
            let end = try await within { try await Peer.readToEnd(peer) }
            #expect(end.bytes == Array("last words".utf8) && !end.reset)
            let late = Task { try await connection.write("more") }
            #expect(failed(await outcome(of: late), with: .outputClosed))
            try await Peer.write(peer, "the peer still talks")
            try Socket.shutdownWrite(peer)
            let heard = try await within { try await readToEnd(connection) }
            #expect(heard == Array("the peer still talks".utf8))
            connection.close()
        }
    }

    /// `abort` resets a TCP connection: the peer's read fails with `ECONNRESET`; later calls
    /// on ours throw `connectionClosed`.
    @Test(arguments: Backend.available)
    func abortResetsThePeer(backend: Backend) async throws {
        try await withAdoptedConnection(backend, over: .tcp) { loop, connection, peer in
            let reader = Task(executorPreference: loop) { try await connection.read(upTo: 10) }
            try await Task.sleep(for: .milliseconds(10))
            connection.abort()
            #expect(failed(await outcome(of: reader), with: .connectionClosed))
            let end = try await within { try await Peer.readToEnd(peer) }
            #expect(end.reset, "the peer saw \(end)")
            let later = Task { try await connection.read(upTo: 10) }
            #expect(failed(await outcome(of: later), with: .connectionClosed))
            let write = Task { try await connection.write("x") }
            #expect(failed(await outcome(of: write), with: .connectionClosed))
        }
    }

    /// `close` while tasks wait to read and to write: both throw `connectionClosed`.
    @Test(arguments: Backend.available, [true, false])
    func closeWhileTasksWaitMakesThemThrow(backend: Backend, onLoop: Bool) async throws {
        try await withPooledConnection(backend, smallWaterMarks()) { loop, pool, connection, peer in
            let reader = Task(executorPreference: onLoop ? loop : nil) { try await connection.read(upTo: 10) }
            try await until { try await waiterCount(pool) == 1 }
            connection.close()
            let result = await outcome(of: reader)
            #expect(failed(result, with: .connectionClosed), "\(String(describing: result))")
            #expect(try await within { try await Peer.readToEnd(peer) } == ([], false))
            #expect(try await waiterCount(pool) == 0)
        }
    }

    /// `close` with output queued writes it all before the end of stream.
    @Test(arguments: Backend.available)
    func closeWritesWhatIsQueuedFirst(backend: Backend) async throws {
        try await withAdoptedConnection(backend) { loop, connection, peer in
            let message = patternBytes(1 << 20, seed: 23)
            try await within(on: loop) {
                try message.withUnsafeBytes { try connection.send($0) }
                #expect(connection.pendingOutputCount > 0)
                connection.close()
            }
            let end = try await within { try await Peer.readToEnd(peer) }
            #expect(sameBytes(end.bytes, message) && !end.reset)
        }
    }

    /// The loop closes while tasks wait on its connections (on the loop and elsewhere, to read
    /// and to write): each throws `connectionClosed`, the peers see the end, and calls made
    /// afterwards, from anywhere, throw rather than hang.
    @Test(arguments: Backend.available)
    func closingTheLoopEndsTheTasksWaitingOnItsConnections(backend: Backend) async throws {
        let thread = try EventLoopThread(name: "closing", backend: backend)
        let loop = thread.loop
        let (a, peerA) = try Socket.makePair()
        let (b, peerB) = try Socket.makePair()
        defer {
            Socket.close(peerA)
            Socket.close(peerB)
        }
        shrinkBuffers(b)
        shrinkBuffers(peerB)
        let pool = try await makePool(loop, smallWaterMarks())
        let first = try await pool.adopt(a)
        let second = try await pool.adopt(b)
        let onLoop = Task(executorPreference: loop) { try await first.read(upTo: 10) }
        let writer = Task { try await second.write(patternBytes(1 << 20)) }
        try await until { try await waiterCount(pool) == 2 }
        thread.shutdown()
        #expect(failed(await outcome(of: onLoop), with: .connectionClosed))
        #expect(failed(await outcome(of: writer), with: .connectionClosed))
        #expect(try await within { try await Peer.readToEnd(peerA) }.bytes.isEmpty)
        _ = try await within { try await Peer.readToEnd(peerB) }
        // After the close, from a task elsewhere and from one preferring the closed loop.
        for executor in [nil, loop] as [(any TaskExecutor)?] {
            let read = Task(executorPreference: executor) { try await first.read(upTo: 10) }
            let write = Task(executorPreference: executor) { try await second.write("late") }
            let readResult = await outcome(of: read)
            let writeResult = await outcome(of: write)
            #expect(failed(readResult, with: .connectionClosed), "\(String(describing: readResult))")
            #expect(failed(writeResult, with: .connectionClosed), "\(String(describing: writeResult))")
        }
        // Adopting on the closed loop is refused, naming the fd, which stays the caller's.
        let (late, peerLate) = try Socket.makePair()
        defer {
            Socket.close(late)
            Socket.close(peerLate)
        }
        for standard in [false, true] {
            let result = await outcome(
                of: Task {
                    standard ? try await AsyncConnection.adopt(late, on: loop) : try await pool.adopt(late)
                })
            guard case .failure(let error as SelectorError) = result else {
                Issue.record("adopted on a closed loop: \(String(describing: result))")
                continue
            }
            #expect(error.operation == .adopt && error.fd == late && error.reason == .loopClosed, "\(error)")
        }
    }

    // MARK: Pipes

    /// A pipe's two ends, each adopted: 1 MiB goes through with backpressure; closing the
    /// write end is the reader's end of stream. `shutdownOutput` on a pipe closes it.
    @Test(arguments: Backend.available, [false, true])
    func aPipeCarriesBytesBetweenItsAdoptedEnds(backend: Backend, shutdownInsteadOfClose: Bool) async throws {
        try await withLoopThread(backend) { thread in
            let loop = thread.loop
            let (reader, writer) = try Descriptor.makePipe()
            let pool = try await makePool(loop, smallWaterMarks())
            let input = try await pool.adopt(reader)
            let output = try await pool.adopt(writer)
            let message = patternBytes(1 << 20, seed: 29)
            let writing = Task(executorPreference: loop) {
                for start in stride(from: 0, to: message.count, by: 100_000) {
                    try await output.write(Array(message[start..<min(message.count, start + 100_000)]))
                }
                if shutdownInsteadOfClose { output.shutdownOutput() } else { output.close() }
            }
            let received = try await within(on: loop) { () -> [UInt8] in
                var bytes: [UInt8] = []
                for try await chunk in input.inbound { bytes += chunk }
                return bytes
            }
            try await finish(writing)
            #expect(sameBytes(received, message))
            input.close()
            try await until { try await onLoopThread(loop) { _ in pool.count } == 0 }
        }
    }

    // MARK: From anywhere

    /// Every call works from a plain actor that is not the loop's (its calls hop to the loop
    /// and back).
    @Test(arguments: Backend.available)
    func callsFromAnActorElsewhereWork(backend: Backend) async throws {
        try await withAdoptedConnection(backend) { _, connection, peer in
            let user = ConnectionUser()
            try await Peer.write(peer, "question")
            let heard = try await within { try await user.exchange(connection, answer: "answer") }
            #expect(heard == Array("question".utf8))
            #expect(try await within { try await Peer.read(peer, count: 6) } == Array("answer".utf8))
            connection.close()
        }
    }
}

/// A plain actor (on the global executor, not a loop) that uses a connection.
actor ConnectionUser {
    var exchanges = 0

    /// Reads "question" in two pieces (`read(upTo:)`, then `read(into:)`), answers, and
    /// returns what it read.
    func exchange(_ connection: AsyncConnection, answer: String) async throws -> [UInt8] {
        var heard = try await connection.read(upTo: 4)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
        defer { buffer.deallocate() }
        while heard.count < 8 {
            let count = try await connection.read(into: buffer)
            guard count > 0 else { break }
            heard += buffer[..<count]
        }
        try await connection.write(answer)
        try await connection.drained()
        exchanges += 1
        return heard
    }
}
