/// A read-only snapshot of a selector's registrations: Python's `get_map()`.
///
/// Taken when `Selector.keys` is read; later changes to the selector do not show in it.
public struct KeyMap: Sequence {
    private let keys: [SelectorKey]

    init(keys: [SelectorKey]) { self.keys = keys }

    /// The number of registrations.
    public var count: Int { keys.count }

    /// Whether nothing is registered.
    public var isEmpty: Bool { keys.isEmpty }

    /// The key for `fd`, or `nil`.
    public subscript(fd: Int32) -> SelectorKey? { keys.first { $0.fd == fd } }

    /// Every fd with a key, ascending.
    public var descriptors: [Int32] { keys.map(\.fd) }

    /// Iterates the keys in fd order.
    public func makeIterator() -> IndexingIterator<[SelectorKey]> { keys.makeIterator() }

    /// The number of registrations, as a lower bound for collection building.
    public var underestimatedCount: Int { keys.count }
}
