/// A reference held without a retain, and lent to a closure without one: the library's one
/// use of `Unmanaged._withUnsafeGuaranteedRef`.
///
/// Only for an object that outlives every call made through it, by a rule its owner keeps:
/// a `Connections` keeps itself alive while any of its registrations can be dispatched (its
/// `keepAlive`), and the selector's key table keeps a removed handler until the batch that
/// may still call it has ended (`KeyTable`'s retired list). For those, a strong reference or
/// `unowned(unsafe)` would still cost a retain and a release per call: 41 instructions per
/// echo round trip in the connections' handler, and a retain and release per dispatched
/// event in the selector (callgrind, `Benchmarks/callgrind/count.sh`).
struct Unretained<Object: AnyObject> {
    let unmanaged: Unmanaged<Object>

    init(_ object: Object) { unmanaged = .passUnretained(object) }

    init(_ unmanaged: Unmanaged<Object>) { self.unmanaged = unmanaged }

    /// Calls `body` with the object, neither retained nor released.
    @inline(__always)
    func with<Result>(_ body: (Object) -> Result) -> Result {
        unmanaged._withUnsafeGuaranteedRef(body)
    }
}
