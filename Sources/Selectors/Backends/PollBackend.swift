internal import CSelectors

/// POSIX `poll(2)`: the watched fds live in one dense `pollfd` array passed to every wait.
///
/// Removal swaps the last entry into the hole, so every operation but the wait is O(1); the
/// wait is O(watched fds) in the kernel and in the scan, which is poll's nature.
///
/// One-shot is emulated exactly: once reported, an entry's fd is stored negated, which poll(2)
/// skips entirely (no `POLLHUP` or `POLLNVAL` either), until `modify` restores it. Edge is
/// delivered as level (see `Trigger`), so neither mode costs a wait anything extra.
final class PollBackend: PollingBackend {
    // Confined to the selector's thread; see Selector for why exclusivity is unchecked.
    @exclusivity(unchecked) private var entries: [pollfd] = []
    @exclusivity(unchecked) private var tokens: [UInt64] = []
    /// Per entry: whether it is one-shot, so the wait disarms it when reporting it.
    @exclusivity(unchecked) private var oneShot: [Bool] = []
    /// Position of each fd in `entries`, or -1.
    @exclusivity(unchecked) private var positions: [Int32] = []

    func add(fd: Int32, events: Events, trigger: Trigger, token: UInt64) throws(Errno) {
        let index = Int(fd)
        if index >= positions.count {
            positions.append(
                contentsOf: repeatElement(-1, count: max(index + 1, positions.count * 2) - positions.count))
        }
        positions[index] = Int32(entries.count)
        entries.append(pollfd(fd: fd, events: PollBackend.interest(events), revents: 0))
        tokens.append(token)
        oneShot.append(trigger == .oneShot)
    }

    func modify(fd: Int32, from old: Interest, to new: Interest, token: UInt64) throws(Errno) {
        let position = Int(positions[Int(fd)])
        // Re-arms a disarmed one-shot entry too: its fd is stored positive again.
        entries[position] = pollfd(fd: fd, events: PollBackend.interest(new.events), revents: 0)
        tokens[position] = token
        oneShot[position] = new.trigger == .oneShot
    }

    func remove(fd: Int32, events: Events) throws(Errno) {
        let position = Int(positions[Int(fd)])
        positions[Int(fd)] = -1
        let last = entries.count - 1
        if position != last {
            entries[position] = entries[last]
            tokens[position] = tokens[last]
            oneShot[position] = oneShot[last]
            positions[Int(PollBackend.descriptor(of: entries[position]))] = Int32(position)
        }
        entries.removeLast()
        tokens.removeLast()
        oneShot.removeLast()
    }

    func wait(timeout: WaitTimeout?, into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno) -> Int
    {
        let milliseconds = timeout?.milliseconds ?? -1
        return try entries.withUnsafeMutableBufferPointer { entries throws(Errno) -> Int in
            var remaining = Int(
                try SystemCall.once { poll(entries.baseAddress, nfds_t(entries.count), milliseconds) })
            var written = 0
            var index = 0
            while remaining > 0, index < entries.count, written < buffer.count {
                let flags = entries[index].revents
                if flags != 0 {
                    buffer[written] = ReadyEvent(token: tokens[index], events: PollBackend.readiness(flags))
                    written += 1
                    remaining -= 1
                    if oneShot[index] { entries[index].fd = PollBackend.disarmed(entries[index].fd) }
                }
                index += 1
            }
            return written
        }
    }

    func close() {
        entries = []
        tokens = []
        oneShot = []
        positions = []
    }

    /// The value a disarmed entry stores instead of `fd`: negative, as poll(2) requires to skip
    /// an entry, and reversible (fd 0 becomes -1).
    private static func disarmed(_ fd: Int32) -> Int32 { -1 - fd }

    /// The fd of an entry, armed or not.
    private static func descriptor(of entry: pollfd) -> Int32 { entry.fd < 0 ? -1 - entry.fd : entry.fd }

    private static func interest(_ events: Events) -> Int16 {
        (events.contains(.read) ? Int16(POLLIN) : 0) | (events.contains(.write) ? Int16(POLLOUT) : 0)
    }

    /// `POLLHUP`, `POLLERR` and `POLLNVAL` (the fd was closed while registered) count as
    /// both readable and writable, so the handler's next call reports the problem.
    @inline(__always)
    private static func readiness(_ flags: Int16) -> Events {
        var events: Events = []
        if flags & ~Int16(POLLOUT) != 0 { events.insert(.read) }
        if flags & ~Int16(POLLIN) != 0 { events.insert(.write) }
        return events
    }
}
