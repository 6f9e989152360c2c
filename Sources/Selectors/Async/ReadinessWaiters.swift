/// The tasks waiting in `EventLoop.readable(_:)` and `writable(_:)`, per fd and direction.
/// Loop-thread state.
///
/// Each fd a task waits on is registered once and stays registered until `unregister`: no
/// system call per wait. How, depends on what the backend can do:
/// - **Native edge** (epoll, kqueue): registered for read and write, edge-triggered. A
///   readiness nobody waits for is remembered (`cached`), and the next wait for it returns at
///   once, so nothing reported is ever missed, and an fd nobody waits on costs nothing.
/// - **Emulated** (poll, select): level-triggered, watching only the directions somebody waits
///   for. Interest changes there are bookkeeping in user space, not system calls.
///
/// A waiter is resumed exactly once: with success when its readiness arrives, with
/// `CancellationError` when its task is cancelled, with `notRegistered` when its fd is
/// unregistered, with `loopClosed` when the loop closes. Whoever takes the continuation out
/// of its slot resumes it, and only there.
final class ReadinessWaiters {
    private struct Waiter {
        var continuation: UnsafeContinuation<Void, any Error>
        var id: UInt64
    }

    private struct Slot {
        var read: Waiter?
        var write: Waiter?
        /// Readiness reported while nobody waited (native edge only).
        var cached: Events = []
        var isRegistered = false
        /// What the registration watches now (emulated only; native watches both).
        var interest: Events = []
        /// Emulated only: the key of a registration taken out of the selector while nobody
        /// waits (see `narrow`). To the caller the fd is still registered, as
        /// `EventLoop.readable` documents, so `unregister(fd)` succeeds with this key.
        var parkedKey: SelectorKey?
    }

    private unowned(unsafe) let loop: EventLoop
    private let nativeEdge: Bool
    private var slots: [Slot] = []
    /// The last cancellation that found no waiter: see `Connections.lastUnmatchedCancel`,
    /// which keeps the same for the same reason.
    private var lastUnmatchedCancel: UInt64 = 0
    private var handler: SharedHandler?

    init(loop: EventLoop) {
        self.loop = loop
        nativeEdge = loop.capabilities.edge == .native
        handler = SharedHandler { [unowned(unsafe) self] fd, events in ready(fd, events) }
    }

    /// Whether a readiness reported while nobody waited can be taken now (and takes it).
    func takeCached(_ fd: Int32, _ direction: Events) -> Bool {
        let index = Int(fd)
        guard index >= 0, index < slots.count, slots[index].cached.contains(direction) else { return false }
        slots[index].cached.remove(direction)
        return true
    }

    /// Installs a waiter, or resumes it at once when it cannot wait.
    func install(
        _ fd: Int32, _ direction: Events, id: UInt64, _ continuation: UnsafeContinuation<Void, any Error>,
        operation: SelectorError.Operation
    ) {
        if id == lastUnmatchedCancel { return continuation.resume(throwing: CancellationError()) }
        guard !loop.isClosed else {
            return continuation.resume(throwing: SelectorError(operation, fd: fd, .loopClosed))
        }
        // Refused before the slots grow to `fd + 1`: the selector would refuse such an fd
        // anyway, after they had been made (2^31 of them for `Int32.max`).
        if let reason = loop.selector.refusal(for: fd) {
            return continuation.resume(throwing: SelectorError(operation, fd: fd, reason))
        }
        if Int(fd) >= slots.count {
            slots.append(
                contentsOf: repeatElement(Slot(), count: max(Int(fd) + 1, slots.count * 2) - slots.count))
        }
        let index = Int(fd)
        if direction == .read ? slots[index].read != nil : slots[index].write != nil {
            return continuation.resume(throwing: SelectorError(operation, fd: fd, .alreadyWaiting))
        }
        if slots[index].cached.contains(direction) {
            slots[index].cached.remove(direction)
            return continuation.resume()
        }
        let waiter = Waiter(continuation: continuation, id: id)
        if direction == .read { slots[index].read = waiter } else { slots[index].write = waiter }
        do {
            try watch(fd)
        } catch {
            if direction == .read { slots[index].read = nil } else { slots[index].write = nil }
            continuation.resume(throwing: SelectorError(operation, fd: fd, error.reason))
        }
    }

    /// Registers `fd` (or widens its interest) for what its waiters want.
    private func watch(_ fd: Int32) throws(SelectorError) {
        let index = Int(fd)
        let selector = loop.selector
        if nativeEdge {
            guard !slots[index].isRegistered else { return }
            try selector.register(fd, events: [.read, .write], trigger: .edge, handler: handler!)
            slots[index].isRegistered = true
            return
        }
        var wanted: Events = []
        if slots[index].read != nil { wanted.insert(.read) }
        if slots[index].write != nil { wanted.insert(.write) }
        guard wanted != slots[index].interest else { return }
        if slots[index].isRegistered {
            try selector.modify(fd, events: wanted)
        } else {
            try selector.register(fd, events: wanted, handler: handler!)
            slots[index].isRegistered = true
            slots[index].parkedKey = nil
        }
        slots[index].interest = wanted
    }

    /// The registered handler: resumes the waiters of what is ready, remembers the rest.
    private func ready(_ fd: Int32, _ events: Events) {
        let index = Int(fd)
        guard index < slots.count else { return }
        if events.contains(.read) {
            if let waiter = slots[index].read {
                slots[index].read = nil
                waiter.continuation.resume()
            } else if nativeEdge {
                slots[index].cached.insert(.read)
            }
        }
        if events.contains(.write) {
            if let waiter = slots[index].write {
                slots[index].write = nil
                waiter.continuation.resume()
            } else if nativeEdge {
                slots[index].cached.insert(.write)
            }
        }
        if !nativeEdge { narrow(fd) }
    }

    /// Emulated backends: stop watching directions nobody waits for (level-triggered, they
    /// would be reported at every wait); no waiter at all: no registration.
    private func narrow(_ fd: Int32) {
        let index = Int(fd)
        var wanted: Events = []
        if slots[index].read != nil { wanted.insert(.read) }
        if slots[index].write != nil { wanted.insert(.write) }
        guard wanted != slots[index].interest, slots[index].isRegistered else { return }
        if wanted.isEmpty {
            slots[index].parkedKey = try? loop.selector.unregister(fd)
            slots[index].isRegistered = false
        } else {
            _ = try? loop.selector.modify(fd, events: wanted)
        }
        slots[index].interest = wanted
    }

    /// The task of waiter `id` was cancelled: resume it with `CancellationError`. A waiter
    /// not found has not been installed yet (its install, next, throws) or has been resumed.
    func cancel(_ fd: Int32, _ direction: Events, id: UInt64) {
        let index = Int(fd)
        let waiter =
            index >= 0 && index < slots.count
            ? (direction == .read ? slots[index].read : slots[index].write) : nil
        guard let waiter, waiter.id == id else {
            lastUnmatchedCancel = id
            return
        }
        if direction == .read { slots[index].read = nil } else { slots[index].write = nil }
        waiter.continuation.resume(throwing: CancellationError())
        if !nativeEdge { narrow(fd) }
    }

    /// Whether `fd` is registered by waiters (so `unregister` must tell them).
    func owns(_ fd: Int32) -> Bool {
        let index = Int(fd)
        return index >= 0 && index < slots.count
            && (slots[index].isRegistered || slots[index].parkedKey != nil)
    }

    /// `fd` is being unregistered: its waiters fail with `notRegistered`, its state goes.
    /// Returns the parked key when the selector no longer holds the fd (see `Slot.parkedKey`).
    @discardableResult
    func forget(_ fd: Int32) -> SelectorKey? {
        let index = Int(fd)
        guard index >= 0, index < slots.count else { return nil }
        let slot = slots[index]
        slots[index] = Slot()
        slot.read?.continuation.resume(throwing: SelectorError(.readable, fd: fd, .notRegistered))
        slot.write?.continuation.resume(throwing: SelectorError(.writable, fd: fd, .notRegistered))
        return slot.isRegistered ? nil : slot.parkedKey
    }

    /// The loop is closing: every waiter fails with `loopClosed`.
    func closeAll() {
        let all = slots
        slots = []
        for (index, slot) in all.enumerated() {
            slot.read?.continuation.resume(throwing: SelectorError(.readable, fd: Int32(index), .loopClosed))
            slot.write?.continuation.resume(throwing: SelectorError(.writable, fd: Int32(index), .loopClosed))
        }
        handler = nil
    }

    /// How many tasks wait now (for tests and leak checks).
    var count: Int { slots.reduce(0) { $0 + ($1.read == nil ? 0 : 1) + ($1.write == nil ? 0 : 1) } }
}
