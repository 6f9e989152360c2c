import Selectors

/// One step of a fuzz case. Descriptors are named by slot (see `ContractModel`), and steps
/// that create descriptors name the slots they fill, so removing a step while shrinking does
/// not renumber the rest. A step whose precondition no longer holds (closing a closed slot,
/// opening into a taken one) is skipped.
enum FuzzOperation: Sendable, Equatable {
    /// How long a `select` may wait.
    enum Wait: Sendable, Equatable {
        /// Zero: poll without blocking.
        case none
        /// One millisecond: must wait at least that when nothing may be reported.
        case brief
        /// Two seconds, only while something must be reported (so it returns at once).
        case long
    }

    /// A registration the selector must refuse before touching the kernel.
    enum InvalidRegistration: Sendable, Equatable {
        case emptyEvents(slot: Int)
        case unknownEvents(slot: Int)
        case negativeDescriptor
    }

    /// A socket pair, its ends moved to two closed slots.
    case openSocketPair(Int, Int)
    /// A pipe: read end, write end.
    case openPipe(Int, Int)
    /// `fcntl(F_DUPFD)` of the first slot to the second, a closed one.
    case dup(Int, to: Int)
    /// `dup2(source, target)`; the target may be open (and registered) or closed.
    case dup2(Int, onto: Int)
    case close(Int)
    case register(Int, Events)
    case registerInvalid(InvalidRegistration)
    case modify(Int, Events)
    case unregister(Int)
    /// One `write` of this many bytes.
    case write(Int, bytes: Int)
    /// `write` until `EAGAIN`.
    case fill(Int)
    /// One `read` of at most this many bytes.
    case read(Int, bytes: Int)
    /// `read` until `EAGAIN` or end of file.
    case drain(Int)
    case select(Wait)
    /// A zero-timeout select whose first ready entry's "handler" runs these steps (changes
    /// of registrations and descriptors) before the rest of the batch is yielded.
    case dispatch([FuzzOperation])

    /// The step with fd numbers, as the failure report prints it.
    func describe(firstDescriptor base: Int32) -> String {
        func fd(_ slot: Int) -> String { "fd \(base + Int32(slot))" }
        switch self {
        case .openSocketPair(let first, let second): return "socketpair -> \(fd(first)), \(fd(second))"
        case .openPipe(let read, let write): return "pipe -> read \(fd(read)), write \(fd(write))"
        case .dup(let source, let target): return "dup \(fd(source)) -> \(fd(target))"
        case .dup2(let source, let target): return "dup2 \(fd(source)) onto \(fd(target))"
        case .close(let slot): return "close \(fd(slot))"
        case .register(let slot, let events): return "register \(fd(slot)) \(events)"
        case .registerInvalid(.emptyEvents(let slot)): return "register \(fd(slot)) []"
        case .registerInvalid(.unknownEvents(let slot)): return "register \(fd(slot)) with unknown event bits"
        case .registerInvalid(.negativeDescriptor): return "register fd -1"
        case .modify(let slot, let events): return "modify \(fd(slot)) \(events)"
        case .unregister(let slot): return "unregister \(fd(slot))"
        case .write(let slot, let bytes): return "write \(bytes) bytes to \(fd(slot))"
        case .fill(let slot): return "fill \(fd(slot)) until EAGAIN"
        case .read(let slot, let bytes): return "read up to \(bytes) bytes from \(fd(slot))"
        case .drain(let slot): return "drain \(fd(slot))"
        case .select(.none): return "select(timeout: 0)"
        case .select(.brief): return "select(timeout: 1 ms)"
        case .select(.long): return "select(timeout: 2 s)"
        case .dispatch(let steps):
            let inner = steps.map { $0.describe(firstDescriptor: base) }.joined(separator: "; ")
            return "select(timeout: 0), the first handler doing: \(inner)"
        }
    }
}
