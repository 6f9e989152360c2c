/// The readiness a registration asks for, and the readiness `select` reports.
///
/// The analogue of Python's `EVENT_READ` and `EVENT_WRITE`. Error and hang-up conditions have
/// no bits of their own: they are reported as `.read` and/or `.write` (whichever the key asked
/// for), so a handler notices them when its `read` returns 0 or its `write` fails.
public struct Events: OptionSet, Hashable, Sendable, BitwiseCopyable, CustomStringConvertible {
    /// The raw bits; only the bits of `.all` are valid in a registration.
    public let rawValue: UInt8

    /// Creates an event set from raw bits (unknown bits are refused by `register` and `modify`).
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The fd is readable: data, a new connection, end of file, or an error is waiting.
    public static let read = Events(rawValue: 1 << 0)
    /// The fd is writable: there is room in its send buffer, or an error is waiting.
    public static let write = Events(rawValue: 1 << 1)
    /// Both `.read` and `.write`.
    public static let all: Events = [.read, .write]

    /// Whether this is a non-empty set made only of known bits.
    var isValidInterest: Bool { !isEmpty && isSubset(of: .all) }

    /// For example `[read, write]`.
    public var description: String {
        var names: [String] = []
        if contains(.read) { names.append("read") }
        if contains(.write) { names.append("write") }
        let unknown = rawValue & ~Events.all.rawValue
        if unknown != 0 { names.append("unknown(0x\(String(unknown, radix: 16)))") }
        return "[" + names.joined(separator: ", ") + "]"
    }
}
