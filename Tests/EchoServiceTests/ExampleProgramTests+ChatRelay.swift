import Glibc
import Selectors
import Testing

/// chat-relay (Examples/ChatRelay), run as a child process with real TCP clients on loopback.
/// The checks are shared with its async version (`ExampleProgramTests+AsyncChatRelay`), which
/// must behave the same.
extension ExampleProgramTests {
    @Test(arguments: Backend.available)
    func chatRelayBroadcastsEachCompleteLineToTheOtherClientsOnly(backend: Backend) throws {
        try checkChatRelayBroadcastsEachCompleteLineToTheOtherClientsOnly("chat-relay", backend)
    }

    @Test(arguments: Backend.available)
    func chatRelayKicksAClientThatSentNoLineForTheIdleTimeout(backend: Backend) throws {
        try checkChatRelayKicksAClientThatSentNoLineForTheIdleTimeout("chat-relay", backend)
    }

    @Test(arguments: Backend.available)
    func chatRelayDropsASlowReaderAndKeepsServingTheOthers(backend: Backend) throws {
        try checkChatRelayDropsASlowReaderAndKeepsServingTheOthers("chat-relay", backend)
    }

    @Test func chatRelayAnswersBadArgumentsWithUsageAndStatusTwo() throws {
        try checkChatRelayAnswersBadArgumentsWithUsageAndStatusTwo("chat-relay")
    }

    /// Three clients join one by one (each join proven by a line the others receive, so no
    /// line can race an accept); then complete lines go to the others only, a line written in
    /// pieces arrives whole and only once its newline is in, several lines in one write all
    /// arrive, and a client that leaves is no longer written to. At the end every client has
    /// received exactly the lines of the others, and the relay's descriptors are back where they
    /// were before the first client.
    func checkChatRelayBroadcastsEachCompleteLineToTheOtherClientsOnly(_ program: String, _ backend: Backend)
        throws
    {
        let (child, address) = try startListeningExample(program, "0 60 \(backend)")
        defer {
            kill(child.pid, SIGKILL)
            _ = child.waitForExit(timeout: 5)
        }
        let idleDescriptors = openDescriptors(of: child.pid)
        let sockets = ClientSockets()
        defer { sockets.closeAll() }

        let a = try sockets.connect(address)
        let b = try sockets.connect(address)
        try TimedIO.send(b, "b joined\n")
        try TimedIO.expect(a, "b joined\n")
        let c = try sockets.connect(address)
        try TimedIO.send(c, "c joined\n")
        try TimedIO.expect(a, "c joined\n")
        try TimedIO.expect(b, "c joined\n")

        try TimedIO.send(a, "hello from a\n")
        try TimedIO.expect(b, "hello from a\n")
        try TimedIO.expect(c, "hello from a\n")

        // A line in three writes: nothing is relayed before its newline.
        try TimedIO.send(b, "split ")
        try TimedIO.expectNothing(a, for: 0.1)
        try TimedIO.send(b, "line from b")
        try TimedIO.expectNothing(c, for: 0.1)
        try TimedIO.send(b, "\nand the start of the next")
        try TimedIO.expect(a, "split line from b\n")
        try TimedIO.expect(c, "split line from b\n")
        try TimedIO.send(b, " one\n")
        try TimedIO.expect(a, "and the start of the next one\n")
        try TimedIO.expect(c, "and the start of the next one\n")

        // Several lines in one write; a partial line left behind by a client that leaves is
        // never relayed.
        try TimedIO.send(c, "one\ntwo\nthree\nnever finished")
        try TimedIO.expect(a, "one\ntwo\nthree\n")
        try TimedIO.expect(b, "one\ntwo\nthree\n")
        sockets.close(c)
        try TimedIO.send(a, "after c left\n")
        try TimedIO.expect(b, "after c left\n")

        // Nobody heard itself, or anything more.
        try TimedIO.expectNothing(a, for: 0.1)
        try TimedIO.expectNothing(b, for: 0.05)
        sockets.close(a)
        sockets.close(b)
        #expect(
            eventually(timeout: 5) { openDescriptors(of: child.pid) == idleDescriptors },
            "\(openDescriptors(of: child.pid)) vs \(idleDescriptors)")
        #expect(!child.hasExited)
    }

    /// With a 1 s idle timeout: a client that sends no line is told so and disconnected 1 s
    /// after it joined (not before, and within a few sweeps after), while a client that keeps
    /// sending lines stays, and goes in its turn once it falls silent.
    func checkChatRelayKicksAClientThatSentNoLineForTheIdleTimeout(_ program: String, _ backend: Backend)
        throws
    {
        let (child, address) = try startListeningExample(program, "0 1 \(backend)")
        defer {
            kill(child.pid, SIGKILL)
            _ = child.waitForExit(timeout: 5)
        }
        let sockets = ClientSockets()
        defer { sockets.closeAll() }

        let talker = try sockets.connect(address)
        let silentSince = now()
        let silent = try sockets.connect(address)
        // The talker sends a line every 0.2 s; the silent client reads what comes until its end.
        var sent = ""
        var lines = 0
        var heard: [UInt8] = []
        var ended: Bool?  // nil: not yet; false: end of stream; true: reset
        while ended == nil, now() - silentSince < 5 {
            let line = "line \(lines)\n"
            lines += 1
            try TimedIO.send(talker, line)
            sent += line
            let deadline = now() + 0.2
            while ended == nil, TimedIO.waitReadable(silent, timeout: deadline - now()) {
                let chunk = try TimedIO.readSome(silent)
                if let chunk { heard += chunk } else { ended = false }
            }
        }
        let silentFor = now() - silentSince
        let goodbye = "idle for 1 s, bye\n"
        let text = String(decoding: heard, as: UTF8.self)
        #expect(ended == false, "no end of stream after \(silentFor) s: '\(text)'")
        // What it heard is a run of the talker's lines, intact and in order, then the goodbye.
        // Not necessarily from the first: the relay learns of a client when it accepts it, and
        // the talker's first line, sent once both were connected, may be read first (the
        // async relay, a hop more per client, showed it under ThreadSanitizer).
        let relayed = text.dropLast(goodbye.count)
        #expect(text.hasSuffix(goodbye), "'\(text)'")
        #expect(("\n" + sent).contains("\n" + relayed), "'\(text)' is not a run of the lines sent")
        #expect(silentFor >= 1.0 && silentFor < 3, "kicked after \(silentFor) s")

        // The talker is still served; once silent, it goes too, 1 s after its last line.
        try TimedIO.send(talker, "anyone?\n")
        let talkerSilentSince = now()
        let end = try TimedIO.readToEnd(talker, timeout: 4)
        let talkerSilentFor = now() - talkerSilentSince
        #expect(String(decoding: end.bytes, as: UTF8.self) == "idle for 1 s, bye\n")
        #expect(talkerSilentFor >= 0.9 && talkerSilentFor < 3, "kicked after \(talkerSilentFor) s")
        #expect(!child.hasExited)
    }

    /// A client that never reads is dropped once the relay has queued its high-water mark
    /// (64 KiB) for it, rather than queueing without end, while a client that reads receives
    /// every line, intact and in order.
    func checkChatRelayDropsASlowReaderAndKeepsServingTheOthers(_ program: String, _ backend: Backend) throws
    {
        let (child, address) = try startListeningExample(program, "0 60 \(backend)")
        defer {
            kill(child.pid, SIGKILL)
            _ = child.waitForExit(timeout: 5)
        }
        let idleDescriptors = openDescriptors(of: child.pid)
        let sockets = ClientSockets()
        defer { sockets.closeAll() }

        let sender = try sockets.connect(address)
        let reader = try sockets.connect(address)
        try TimedIO.send(reader, "reader joined\n")
        try TimedIO.expect(sender, "reader joined\n")
        let slow = try sockets.connect(address)
        Client.shrinkBuffers(slow, to: 4096)
        try TimedIO.send(slow, "slow joined\n")
        try TimedIO.expect(sender, "slow joined\n")
        try TimedIO.expect(reader, "slow joined\n")

        // 2,000 lines of 1,000 bytes, 2 MB, far past what the slow client's socket buffers and
        // the relay's 64 KiB allowance for it hold. The reader checks each line; the sender
        // waits for it every 50 lines, so the reader itself is never 64 KiB behind.
        var stream: [UInt8] = []
        for batch in 0..<40 {
            let lines = (batch * 50..<(batch + 1) * 50).map(chatLine).joined()
            try TimedIO.send(sender, Array(lines))
            let received = try TimedIO.read(reader, count: lines.count)
            #expect(received.elementsEqual(lines), "batch \(batch) differs")
            stream += lines
        }

        // The slow client was cut off: what it can still read ends well short of 2 MB, and
        // what it got is the start of the stream, intact.
        let (bytes, _) = try TimedIO.readToEnd(slow, timeout: 5)
        #expect(bytes.count < 1_000_000, "the slow client received \(bytes.count) bytes")
        #expect(stream.starts(with: bytes))
        sockets.close(slow)
        sockets.close(sender)
        sockets.close(reader)
        #expect(
            eventually(timeout: 5) { openDescriptors(of: child.pid) == idleDescriptors },
            "\(openDescriptors(of: child.pid)) vs \(idleDescriptors)")
        #expect(!child.hasExited)
    }

    func checkChatRelayAnswersBadArgumentsWithUsageAndStatusTwo(_ program: String) throws {
        let path = try builtExecutable(program)
        for arguments in ["70000", "0 0", "0 x", "0 1 nosuch", "0 1 epoll extra"] {
            let child = try ChildProcess(shell: "exec '\(path)' \(arguments)")
            let status = child.waitForExit(timeout: 10)
            #expect(status.flatMap(ChildProcess.exitCode) == 2, "\(arguments)")
            #expect(child.stderrText.hasPrefix("usage: \(program) [PORT] [IDLE-SECONDS]"), "\(arguments)")
            #expect(child.stdoutText.isEmpty, "\(arguments)")
        }
    }
}

/// Line `index` of the slow-reader test: its number, then one letter repeated, 1,000 bytes in
/// all with the newline.
private func chatLine(_ index: Int) -> [UInt8] {
    let digits = Array(String(index).utf8)
    return digits + [UInt8](repeating: UInt8(ascii: "a") + UInt8(index % 26), count: 999 - digits.count)
        + [UInt8(ascii: "\n")]
}
