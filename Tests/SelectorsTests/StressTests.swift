import CSelectors
import Selectors
import Testing

extension DescriptorHeavyTests {
    /// Each message is `[pair][sequence: 4 bytes LE][body length: 2 bytes LE][body]`, the body
    /// a pattern derived from pair and sequence, so a reader can tell a message that went to
    /// the wrong pair, arrived out of order, or was cut or corrupted.
    private static func message(pair: Int, sequence: UInt32, bodyLength: Int) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(pair)]
        withUnsafeBytes(of: sequence.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(bodyLength).littleEndian) { bytes.append(contentsOf: $0) }
        for index in 0..<bodyLength { bytes.append(bodyByte(pair: pair, sequence: sequence, index: index)) }
        return bytes
    }

    private static func bodyByte(pair: Int, sequence: UInt32, index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: pair &* 31 &+ Int(sequence) &* 7 &+ index &* 13)
    }

    private static let headerLength = 7

    /// What one reader has received so far.
    private final class Inbox {
        let pair: Int
        var pending: [UInt8] = []
        var received: UInt32 = 0
        var problems: [String] = []
        init(pair: Int) { self.pair = pair }

        /// Takes every complete message off the front of `pending` and checks it.
        func consumeMessages() {
            var start = 0
            while pending.count - start >= DescriptorHeavyTests.headerLength {
                let bodyLength = Int(pending[start + 5]) | Int(pending[start + 6]) << 8
                let end = start + DescriptorHeavyTests.headerLength + bodyLength
                guard pending.count >= end else { break }
                let sender = Int(pending[start])
                var sequence: UInt32 = 0
                for offset in 0..<4 { sequence |= UInt32(pending[start + 1 + offset]) << (8 * offset) }
                if sender != pair { problems.append("pair \(pair) got a message for pair \(sender)") }
                if sequence != received {
                    problems.append("pair \(pair) got #\(sequence), expected #\(received)")
                }
                for index in 0..<bodyLength
                where pending[start + DescriptorHeavyTests.headerLength + index]
                    != DescriptorHeavyTests.bodyByte(pair: sender, sequence: sequence, index: index)
                {
                    problems.append("pair \(pair) message #\(sequence) corrupt at byte \(index)")
                    break
                }
                received += 1
                start = end
            }
            pending.removeFirst(start)
        }
    }

    @Test(arguments: Backend.available)
    func randomMessagesOverSixtyFourSocketPairsArriveIntactAtTheRightReader(backend: Backend) throws {
        let pairCount = 64
        let messageCount = 2_000
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            var generator = SeededGenerator(seed: 0x5E1E_C7 &+ UInt64(backend.rawValue.utf8.count))
            var writers: [Int32] = []
            var inboxes: [Inbox] = []
            for pair in 0..<pairCount {
                let (reader, writer) = try fds.socketPair()
                writers.append(writer)
                let inbox = Inbox(pair: pair)
                inboxes.append(inbox)
                // Small reads split messages across wake-ups, so level-triggered re-reports
                // and reassembly are exercised too.
                let chunk = Int.random(in: 1...97, using: &generator)
                try selector.register(reader, events: .read) { fd, _ in
                    guard let bytes = try? readAvailable(fd, limit: chunk) else { return }
                    if bytes.isEmpty { inbox.problems.append("pair \(pair) saw end of file") }
                    inbox.pending.append(contentsOf: bytes)
                    inbox.consumeMessages()
                }
            }

            var sent = [UInt32](repeating: 0, count: pairCount)
            var remaining = messageCount
            while remaining > 0 {
                for _ in 0..<min(remaining, Int.random(in: 1...40, using: &generator)) {
                    let pair = Int.random(in: 0..<pairCount, using: &generator)
                    let bodyLength = Int.random(in: 0...300, using: &generator)
                    // At most ~2,000 * 307 bytes in all: far below one socket buffer, so a
                    // write never blocks even if no reader has run yet.
                    try writeAll(
                        writers[pair], Self.message(pair: pair, sequence: sent[pair], bodyLength: bodyLength))
                    sent[pair] += 1
                    remaining -= 1
                }
                try selector.dispatch(timeout: .zero)
            }

            let deadline = monotonicNow() + .seconds(30)
            while inboxes.map(\.received).reduce(0, +) < messageCount, monotonicNow() < deadline {
                try selector.dispatch(timeout: .milliseconds(100))
            }
            for inbox in inboxes {
                #expect(inbox.problems.isEmpty, "\(inbox.problems.prefix(5))")
                #expect(inbox.received == sent[inbox.pair], "pair \(inbox.pair)")
                #expect(inbox.pending.isEmpty, "pair \(inbox.pair) has a partial message left")
            }
            #expect(inboxes.map(\.received).reduce(0, +) == UInt32(messageCount))
        }
    }

    // 1,100 pipes are 2,200 descriptors, plus headroom for the rest of the test process.
    //
    // Runs in a child process (an exit test): while 2,200 descriptors are open, every
    // descriptor another test opens gets a number above FD_SETSIZE, where a select backend
    // with a limit rightly refuses it, so holding them in the shared test process made
    // select-backend tests running alongside fail now and then.
    @Test(
        .enabled(
            if: descriptorLimit >= 3_000,
            "needs RLIMIT_NOFILE >= 3,000 for 1,100 pipes (raise it with ulimit -n)"))
    func oneSelectReportsMoreThan1024ReadyDescriptors() async {
        await #expect(processExitsWith: .success) {
            FixedDescriptorNumbers.inChildProcess {
                for backend in Backend.available {
                    if let failure = DescriptorHeavyTests.checkOneSelectReportsEveryPipe(backend) {
                        print("\(backend): \(failure)")
                        exit(1)
                    }
                }
            }
        }
    }

    /// Registers the write ends of 1,100 pipes (all writable) and checks that one select
    /// reports them all. Where the select backend stops at FD_SETSIZE
    /// (`capabilities.descriptorLimit`), it must refuse the fds at or above it and report the
    /// rest. Returns what went wrong, or nil.
    static func checkOneSelectReportsEveryPipe(_ backend: Backend) -> String? {
        let pipeCount = 1_100
        do {
            return try withDescriptors { fds in
                let selector = try Selector(backend: backend)
                defer { selector.close() }
                let limit = backend.capabilities.descriptorLimit
                var registered: Set<Int32> = []
                var refused = 0
                for _ in 0..<pipeCount {
                    let (_, writer) = try fds.pipe()
                    if let limit, writer >= limit {
                        do {
                            try selector.register(writer, events: .write, handler: ignoreEvents)
                            return "\(backend) accepted fd \(writer), which is not below its limit \(limit)"
                        } catch let error as SelectorError {
                            guard error.reason == .descriptorTooLarge(limit: limit) else {
                                return "fd \(writer) refused for the wrong reason: \(error)"
                            }
                        }
                        refused += 1
                    } else {
                        try selector.register(writer, events: .write, handler: ignoreEvents)
                        registered.insert(writer)
                    }
                }
                let entries = try selector.readyEntries(timeout: .seconds(5))
                guard entries.count == registered.count, Set(entries.map(\.fd)) == registered else {
                    return "\(entries.count) entries for \(registered.count) registered descriptors"
                }
                guard entries.allSatisfy({ $0.events == .write }) else { return "an entry was not [write]" }
                if limit != nil {
                    return refused > 0 ? nil : "no descriptor reached the limit"
                }
                return entries.count == pipeCount && entries.count > 1_024
                    ? nil : "only \(entries.count) of \(pipeCount) reported in one select"
            }
        } catch {
            return "\(error)"
        }
    }
}
