/// When a registration reports readiness: on every wait (level), when it newly arises (edge), or
/// once until re-armed (one-shot). Chosen per registration at `register`, changed by `modify`,
/// shown on `SelectorKey.trigger`.
///
/// The rules below hold on every backend. `Backend.capabilities` says which backends have the
/// mode in the kernel (epoll: `EPOLLET`, `EPOLLONESHOT`; kqueue: `EV_CLEAR`, `EV_DISPATCH`) and
/// which emulate it (poll, select).
///
/// **Level** (the default; Python's and libuv's only mode): every `select` reports the fd while
/// it is ready for an event the key wants.
///
/// **Edge**: a readiness is reported when it arises, and the handler must then consume it until
/// the system call fails with `EAGAIN` (read until `EAGAIN`, accept until `EAGAIN`, write while
/// it has bytes until they are all written or `EAGAIN`).
/// - After a drain, the next readiness is reported when it arises, also when it arises before
///   the next `select` (data that arrived between your last `read` and the wait is reported).
///   On io_uring it is reported even if you used it up before that wait (you read the data
///   again before selecting): the read then finds `EAGAIN` (see `UringBackend`). epoll,
///   kqueue and the emulation check the fd as they report it.
/// - After `register`, and after a `modify` that changes the events or the trigger, every
///   readiness the fd has at that moment is reported once, even one reported before.
/// - A readiness the handler leaves in place (a partial read, `.write` watched with nothing to
///   send, end of file, a hang-up) is reported again no later than when something new happens
///   to the fd. Native backends wait for the new thing (more data, freed buffer space), except
///   that io_uring reports it once more when its ring is replaced (the selector moved to
///   another thread; see `UringBackend`); the emulation on poll and select reports it again
///   at the next `select`. So drain, and watch
///   `.write` only while output is pending (toggle it with `modify`), and the two look alike.
/// - Hang-up and error conditions are reported as read and/or write readiness, as in level mode.
///   They do not go away: natively they are reported once, emulated at every `select` until the
///   interest is dropped or the fd unregistered.
///
/// Why poll and select cannot do better: they only say whether an fd is ready *now*. "The
/// handler read part of the data and nothing arrived since" and "the handler read everything,
/// then new data arrived before the next wait" look the same to every check the selector can
/// make, and only the second one must be reported (missing it hangs a request/response peer).
/// So the emulation reports what is ready at each wait, which for a draining handler is exactly
/// the edge the kernel would have reported, and costs nothing extra per wait.
///
/// **One-shot**: the first `select` that finds the fd ready reports it once, with every wanted
/// event ready at that moment in one entry. The registration then stays (its key, its count)
/// but reports nothing until `modify` re-arms it. Every `modify` of a one-shot registration
/// re-arms it, even with unchanged events (one `epoll_ctl` or `kevent`), and the next `select`
/// reports the fd if it is ready then. Exact on every backend: poll and select stop watching the
/// fd when they report it. A hang-up, too, is reported once per arming.
///
/// Across modes: the stale-event guard drops events of a registration that a handler replaced
/// mid-batch, whatever its mode; a `modify` mid-batch masks a pending event with the new
/// interest; re-arming a one-shot key mid-batch still delivers the pending event of the arming
/// before, and the new arming reports at a later `select`.
public enum Trigger: String, CaseIterable, Sendable, BitwiseCopyable, CustomStringConvertible {
    /// Report at every `select` while ready (`EPOLLIN` without flags, plain `EV_ADD`).
    case level
    /// Report when readiness arises; drain until `EAGAIN` (`EPOLLET`, `EV_CLEAR`).
    case edge
    /// Report once, then stay registered but silent until `modify` (`EPOLLONESHOT`, `EV_DISPATCH`).
    case oneShot = "one-shot"

    /// Looks a trigger up by its name (`"level"`, `"edge"`, `"one-shot"`), for command lines.
    public init?(name: String) {
        switch name.lowercased() {
        case "oneshot", "one_shot": self = .oneShot
        case let other: self.init(rawValue: other)
        }
    }

    /// The trigger's name, as accepted by `init(name:)`.
    public var description: String { rawValue }
}

extension Trigger {
    /// The trigger as `cselectors_direct_control` takes it: 0 level, 1 edge, 2 one-shot.
    var directCode: Int32 {
        switch self {
        case .level: 0
        case .edge: 1
        case .oneShot: 2
        }
    }
}
