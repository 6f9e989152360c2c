/// The ready keys of one `Selector.select` call, with the events each is ready for.
///
/// A view over the selector's reusable buffer, so iterating allocates nothing. Each element
/// is resolved against the key table when it is yielded: an fd unregistered, closed and
/// re-registered, or modified by an earlier handler in the same batch is skipped or masked
/// accordingly. A `select` made while the view or one of its iterators is still alive (a
/// handler's, say) leaves the whole batch to the view, as Python's list would be left: it is
/// copied aside then (see `ReadyBatch`), which a caller that lets each view go before its next
/// `select` never pays for. The view is empty once the selector is closed.
public struct ReadyKeys: Sequence {
    let selector: Selector
    let batch: ReadyBatch

    /// Iterates the ready keys.
    public struct Iterator: IteratorProtocol {
        let selector: Selector
        let batch: ReadyBatch
        var index = 0

        /// The next ready key and its events, skipping stale events.
        public mutating func next() -> (key: SelectorKey, events: Events)? {
            while true {
                guard let resolved = selector.resolve(index, of: batch) else { return nil }
                index += 1
                if let resolved { return resolved }
            }
        }
    }

    /// Starts iterating.
    public func makeIterator() -> Iterator { Iterator(selector: selector, batch: batch) }
}
