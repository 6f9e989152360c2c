/// Finds, in the events of a wait that just returned, those that no live registration
/// produced: *ghosts*, registrations the kernel kept after refusing to remove them (see
/// `PollingBackend.mayKeepGhosts`). Only consulted after such a refusal, so it costs nothing
/// otherwise.
///
/// Two kinds give a ghost away. An event whose generation no live key has: every key change
/// before the wait happened before it, so this is not a stale event of the batch. And a
/// second event for one fd: epoll can hold two entries under one number (a ghost's file and
/// the live key's file), and a `modify` made after the number came back to the ghost's file
/// re-arms the ghost with the live key's token, so both carry a live generation.
struct GhostFilter {
    /// Per fd: the scan that last saw it, and where its entry was kept.
    private var stamps: [UInt64] = []
    private var positions: [Int32] = []
    // 64-bit, so it never wraps back onto an old slot's stamp.
    private var stamp: UInt64 = 0

    /// Compacts `events[0..<count]` to the live events, one per fd (a second one for an fd
    /// is merged into the first). Returns the new count and whether anything was a ghost.
    mutating func filter(
        _ events: UnsafeMutableBufferPointer<ReadyEvent>, count: Int, table: borrowing KeyTable
    )
        -> (count: Int, foundGhost: Bool)
    {
        stamp &+= 1
        var kept = 0
        var foundGhost = false
        for index in 0..<count {
            let event = events[index]
            guard let live = table.slot(event.fd), live.generation == event.generation else {
                foundGhost = true
                continue
            }
            let slot = Int(event.fd)
            if slot >= stamps.count {
                let grown = max(slot + 1, stamps.count * 2)
                stamps.append(contentsOf: repeatElement(0, count: grown - stamps.count))
                positions.append(contentsOf: repeatElement(0, count: grown - positions.count))
            }
            if stamps[slot] == stamp {
                events[Int(positions[slot])].events.formUnion(event.events)
                foundGhost = true
                continue
            }
            stamps[slot] = stamp
            positions[slot] = Int32(kept)
            events[kept] = event
            kept += 1
        }
        return (kept, foundGhost)
    }
}
