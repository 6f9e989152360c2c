internal import CSelectors

/// One fd the kernel reported ready, as every backend hands it to the selector.
///
/// The token packs the fd with its registration's generation (`fd` in the low 32 bits,
/// generation in the high 32). epoll and kqueue store it in the kernel's user data; poll and
/// select keep it beside their fd lists. The selector drops an event whose generation no longer
/// matches the key table, so an event meant for a registration that a handler removed or
/// replaced earlier in the same batch never reaches the new one.
///
/// The flags are kept as the kernel reported them and folded into `Events` only when read:
/// on Linux the record is `struct epoll_event` itself, so `epoll_wait` writes the selector's
/// buffer directly (callgrind: a copy per event cost 10 instructions per echo round trip).
struct ReadyEvent {
    private var record: cselectors_ready_event

    /// An event whose readiness the backend has already folded into `Events`.
    @inline(__always)
    init(token: UInt64, events: Events) {
        record = cselectors_ready_event()
        record.data.u64 = token
        self.events = events
    }

    @inline(__always)
    static func token(fd: Int32, generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    @inline(__always)
    var token: UInt64 { record.data.u64 }

    @inline(__always)
    var fd: Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: token)) }

    @inline(__always)
    var generation: UInt32 { UInt32(truncatingIfNeeded: token >> 32) }

    /// What the fd is ready for, not yet masked by the key's interest. Anything other than
    /// plain output readiness (data, a hang-up, an error) counts as readable, anything other
    /// than plain input readiness as writable, so errors reach whichever handler runs. Set by
    /// backends that fold readiness themselves (and merge duplicates with `formUnion`).
    var events: Events {
        @inline(__always) get {
            let flags = record.events
            var events: Events = []
            if flags & ~cselectors_ready_out != 0 { events.insert(.read) }
            if flags & ~cselectors_ready_in != 0 { events.insert(.write) }
            return events
        }
        @inline(__always) set {
            record.events =
                (newValue.contains(.read) ? cselectors_ready_in : 0)
                | (newValue.contains(.write) ? cselectors_ready_out : 0)
        }
    }
}
