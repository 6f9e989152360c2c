/// The ready keys of one `Selector.select` call, with the events each is ready for.
///
/// A view over the selector's reusable buffer, so iterating allocates nothing. Each element
/// is resolved against the key table when it is yielded: an fd unregistered, closed and
/// re-registered, or modified by an earlier handler in the same batch is skipped or masked
/// accordingly. A `select` made before the view has yielded everything (a handler's, say)
/// leaves the rest to the view, as Python's list would be left; only a caller that leaves views
/// unfinished pays for that, with a copy (see `SupersededBatches`). The view is empty once the
/// selector is closed.
public struct ReadyKeys: Sequence {
    let selector: Selector
    let batch: UInt64

    /// Iterates the ready keys.
    public struct Iterator: IteratorProtocol {
        let selector: Selector
        let batch: UInt64
        var index = 0

        /// The next ready key and its events, skipping stale events.
        public mutating func next() -> (key: SelectorKey, events: Events)? {
            while true {
                guard let resolved = selector.resolve(index, batch: batch) else { return nil }
                index += 1
                if let resolved { return resolved }
            }
        }
    }

    /// Starts iterating.
    public func makeIterator() -> Iterator { Iterator(selector: selector, batch: batch) }
}
