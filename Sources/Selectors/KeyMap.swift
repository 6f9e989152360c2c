/// A read-only snapshot of a selector's registrations: Python's `get_map()`.
///
/// Taken when `Selector.keys` is read; later changes to the selector do not show in it.
public struct KeyMap: Sequence {
    private let table: KeyTable

    init(table: KeyTable) { self.table = table }

    /// The number of registrations.
    public var count: Int { table.count }

    /// Whether nothing is registered.
    public var isEmpty: Bool { table.count == 0 }

    /// The key for `fd`, or `nil`.
    public subscript(fd: Int32) -> SelectorKey? { fd >= 0 ? table[fd] : nil }

    /// Every fd with a key, ascending.
    public var descriptors: [Int32] { table.allKeys.map(\.fd) }

    /// Iterates the keys in fd order.
    public func makeIterator() -> AnyIterator<SelectorKey> {
        var base = table.allKeys.makeIterator()
        return AnyIterator { base.next() }
    }

    /// The number of registrations, as a lower bound for collection building.
    public var underestimatedCount: Int { table.count }
}
