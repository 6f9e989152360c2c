/// One fd the kernel reported ready, as every backend hands it to the selector.
///
/// The token packs the fd with its registration's generation (`fd` in the low 32 bits,
/// generation in the high 32). epoll and kqueue store it in the kernel's user data; poll and
/// select keep it beside their fd lists. The selector drops an event whose generation no longer
/// matches the key table, so an event meant for a registration that a handler removed or
/// replaced earlier in the same batch never reaches the new one.
struct ReadyEvent {
    var token: UInt64
    /// What the kernel reported, already folded into `.read`/`.write` (errors and hang-ups
    /// count as both) but not yet masked by the key's interest.
    var events: Events

    @inline(__always)
    static func token(fd: Int32, generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    @inline(__always)
    var fd: Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: token)) }

    @inline(__always)
    var generation: UInt32 { UInt32(truncatingIfNeeded: token >> 32) }
}
