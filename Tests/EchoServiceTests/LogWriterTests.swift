import CSelectors
import EchoService
import Glibc
import Testing

/// `LogWriter` against real pipes and files: the echo server's log must never block its loop.
@Suite(.timeLimit(.minutes(5)))
struct LogWriterTests {
    /// The attack run's hang: a log pipe nobody reads. Writes return at once, the queue stays
    /// within its bound, the lines beyond it are dropped and counted; once the reader drains
    /// the pipe, the kept lines arrive whole and in order, then one notice of the drops.
    @Test func aFullPipeNeverBlocksTheWriterAndDropsAreCountedThenReported() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer { for fd in [readEnd, writeEnd] { Glibc.close(fd) } }
        let filler = try fillPipe(writeEnd, capacity: 4096)

        let writer = LogWriter(fd: writeEnd, capacity: 1024) { "dropped \($0)\n" }
        let lines = (0..<100).map { "line \($0) " + String(repeating: "x", count: 40) + "\n" }
        for line in lines { writer.write(line) }
        #expect(writer.pendingBytes <= 1024)
        let kept = 100 - writer.droppedLines
        #expect(kept > 0 && kept < 100, "kept \(kept)")

        var received = readAvailable(readEnd)
        #expect(received.count == filler)
        #expect(writer.flush())
        received = readAvailable(readEnd)
        let expected = lines[..<kept].joined() + "dropped \(100 - kept)\n"
        #expect(String(decoding: received, as: UTF8.self) == expected)
        #expect(writer.pendingBytes == 0)
    }

    /// `O_NONBLOCK` is never set on the description the caller's fd shares with others (a
    /// shell's terminal would turn non-blocking under the shell's feet).
    @Test func theCallersDescriptionStaysBlocking() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer { for fd in [readEnd, writeEnd] { Glibc.close(fd) } }
        let writer = LogWriter(fd: writeEnd)
        writer.write("hello\n")
        #expect(cselectors_fcntl_get(writeEnd, F_GETFL) & O_NONBLOCK == 0)
        #expect(String(decoding: readAvailable(readEnd), as: UTF8.self) == "hello\n")
    }

    /// Lines longer than `PIPE_BUF` and a queue longer than one write come out unchanged.
    @Test func longLinesAndLongQueuesArriveUnchanged() throws {
        let (readEnd, writeEnd) = try makePipe()
        defer { for fd in [readEnd, writeEnd] { Glibc.close(fd) } }
        let filler = try fillPipe(writeEnd, capacity: 4096)
        let writer = LogWriter(fd: writeEnd, capacity: 64 * 1024)
        let lines = [String(repeating: "a", count: 5000) + "\n"] + (0..<300).map { "short \($0)\n" }
        for line in lines { writer.write(line) }
        #expect(writer.droppedLines == 0)
        var received: [UInt8] = []
        let deadline = now() + 20
        while now() < deadline {
            received += readAvailable(readEnd)
            if writer.flush() && received.count >= filler { break }
            sleep(seconds: 0.001)
        }
        received += readAvailable(readEnd)
        #expect(String(decoding: received.dropFirst(filler), as: UTF8.self) == lines.joined())
    }

    @Test func aRegularFileIsWrittenAtOnce() throws {
        var template = Array("/tmp/logwriter-test-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw TestFailure("mkstemp failed") }
        defer {
            unlink(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
            Glibc.close(fd)
        }
        let writer = LogWriter(fd: fd)
        writer.write("one\n")
        writer.write("two\n")
        #expect(writer.pendingBytes == 0)
        lseek(fd, 0, SEEK_SET)
        #expect(String(decoding: readAvailable(fd), as: UTF8.self) == "one\ntwo\n")
    }

    @Test func aClosedDescriptorDiscardsQuietly() {
        let writer = LogWriter(fd: 987_654)
        writer.write("nobody hears this\n")
        #expect(writer.flush(waitingAtMost: .milliseconds(10)))
    }
}

private func makePipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw TestFailure("pipe failed") }
    for fd in fds { _ = cselectors_fcntl_set(fd, F_SETFD, FD_CLOEXEC) }
    return (fds[0], fds[1])
}

/// Shrinks the pipe to `capacity` (`F_SETPIPE_SZ`) and fills it; returns the bytes written.
private func fillPipe(_ writeEnd: Int32, capacity: Int32) throws -> Int {
    guard cselectors_fcntl_set(writeEnd, 1031 /* F_SETPIPE_SZ */, capacity) >= 0 else {
        throw TestFailure("F_SETPIPE_SZ failed")
    }
    let flags = cselectors_fcntl_get(writeEnd, F_GETFL)
    _ = cselectors_fcntl_set(writeEnd, F_SETFL, flags | O_NONBLOCK)
    defer { _ = cselectors_fcntl_set(writeEnd, F_SETFL, flags) }
    var total = 0
    var byte = UInt8(ascii: "-")
    while Glibc.write(writeEnd, &byte, 1) == 1 { total += 1 }
    return total
}

/// Whatever `fd` holds now, without waiting.
private func readAvailable(_ fd: Int32) -> [UInt8] {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 0) > 0 else { break }
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return bytes
}
