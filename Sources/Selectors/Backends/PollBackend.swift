import CSelectors

/// POSIX `poll(2)`: the watched fds live in one dense `pollfd` array passed to every wait.
///
/// Removal swaps the last entry into the hole, so every operation but the wait is O(1); the
/// wait is O(watched fds) in the kernel and in the scan, which is poll's nature.
final class PollBackend: PollingBackend {
    // Confined to the selector's thread; see Selector for why exclusivity is unchecked.
    @exclusivity(unchecked) private var entries: [pollfd] = []
    @exclusivity(unchecked) private var tokens: [UInt64] = []
    /// Position of each fd in `entries`, or -1.
    @exclusivity(unchecked) private var positions: [Int32] = []

    func add(fd: Int32, events: Events, token: UInt64) throws(Errno) {
        let index = Int(fd)
        if index >= positions.count {
            positions.append(
                contentsOf: repeatElement(-1, count: max(index + 1, positions.count * 2) - positions.count))
        }
        positions[index] = Int32(entries.count)
        entries.append(pollfd(fd: fd, events: PollBackend.interest(events), revents: 0))
        tokens.append(token)
    }

    func modify(fd: Int32, from oldEvents: Events, to newEvents: Events, token: UInt64) throws(Errno) {
        let position = Int(positions[Int(fd)])
        entries[position].events = PollBackend.interest(newEvents)
        tokens[position] = token
    }

    func remove(fd: Int32, events: Events) throws(Errno) {
        let position = Int(positions[Int(fd)])
        positions[Int(fd)] = -1
        let last = entries.count - 1
        if position != last {
            entries[position] = entries[last]
            tokens[position] = tokens[last]
            positions[Int(entries[position].fd)] = Int32(position)
        }
        entries.removeLast()
        tokens.removeLast()
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
                }
                index += 1
            }
            return written
        }
    }

    func close() {
        entries = []
        tokens = []
        positions = []
    }

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
