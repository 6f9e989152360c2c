/// One `select`'s ready events, shared by the views of it (`ReadyKeys`) and their iterators,
/// so that the next `select` can tell whether any of them is still alive: a handler that
/// selects while the caller iterates, or a caller that selects again before iterating.
///
/// Python's `select` returns a list, which a later call leaves alone; the selector's views
/// read one reusable buffer, which the later call overwrites. So when a view is still alive,
/// that `select` first copies the whole batch into this share, and the view goes on reading
/// the copy. Without it the rest of the batch was dropped, and with it any edge or one-shot
/// readiness in it, which the kernel does not report again: a wait that never ends.
///
/// The copy is the whole batch, indexed as the buffer was, because a view may have several
/// iterators (a `contains` that looked through it, then a `for` loop), each at its own
/// place. It lives exactly as long as the views do, as Python's list does: nothing a live
/// view can still reach is ever dropped, however many `select` calls nest, and nothing is
/// kept for views that are gone. A caller whose views are gone by its next `select` (a `for`
/// loop over each result) pays one uniqueness check per `select`, and no copy.
final class ReadyBatch {
    /// The batch's events, once a `select` replaced the batch while a view of it was alive;
    /// nil while it is the selector's current batch, which is read from the selector's buffer.
    private var events: [ReadyEvent]?

    /// Whether a later `select` replaced the batch.
    var isSuperseded: Bool { events != nil }

    /// Keeps `ready`, the batch's events, for the views still reading them.
    func supersede(keeping ready: UnsafeMutableBufferPointer<ReadyEvent>.SubSequence) {
        events = Array(ready)
    }

    /// Event `index` of a superseded batch, or nil past its end.
    func event(_ index: Int) -> ReadyEvent? {
        guard let events, index < events.count else { return nil }
        return events[index]
    }
}
