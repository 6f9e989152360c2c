/// What a batch of ready events had not yet yielded when a later `select` replaced it (a
/// handler called `select` while the caller iterated the batch's `ReadyKeys`, or the caller
/// selected again before iterating): kept aside, so the view goes on yielding it. Python's
/// `select` returns a list, which a nested call leaves alone; the selector's views read one
/// reusable buffer, which the nested call overwrites. Without this, the rest of the outer batch
/// was dropped, and with it any edge or one-shot readiness in it, which the kernel does not
/// report again: a wait that never ends.
///
/// A copy is made only for a batch replaced before it was fully yielded, so a caller that
/// iterates each batch to its end, and the event loop, pay one comparison per `select`. At
/// most `limit` batches are kept, the newest; a batch whose view is dropped unfinished is
/// forgotten that way.
struct SupersededBatches {
    private struct Kept {
        let batch: UInt64
        /// The index, in the batch, of `events[0]`.
        let start: Int
        let events: [ReadyEvent]
    }

    private static let limit = 8
    private var kept: [Kept] = []

    /// Keeps `ready[from..<count]`, the part of `batch` not yet yielded.
    mutating func keep(
        _ ready: UnsafeMutableBufferPointer<ReadyEvent>, from: Int, count: Int, of batch: UInt64
    ) {
        if kept.count == SupersededBatches.limit { kept.removeFirst() }
        kept.append(Kept(batch: batch, start: from, events: Array(ready[from..<count])))
    }

    /// Event `index` of superseded batch `batch`, or nil: past its end (and then the batch is
    /// forgotten), or before what was kept (yielded already, to another iterator of the view).
    mutating func event(_ index: Int, of batch: UInt64) -> ReadyEvent? {
        guard let position = kept.firstIndex(where: { $0.batch == batch }) else { return nil }
        let offset = index - kept[position].start
        guard offset < kept[position].events.count else {
            kept.remove(at: position)
            return nil
        }
        return offset >= 0 ? kept[position].events[offset] : nil
    }
}
