import Selectors

/// What the harness knows about its descriptors, and what a `select` must and may report.
///
/// Descriptors live in *slots*: fd numbers `base + index` that only the harness assigns
/// (new kernel objects are moved there with `F_DUPFD`), so the model knows every number's
/// state exactly. A slot refers to an open *file* (one end of a socket pair or pipe, an open
/// file description); several slots may refer to one file (`dup`, `dup2`).
///
/// A file is *closed* once no slot refers to it. Then its peer sees the hang-up, and the
/// bytes queued for it are discarded.
///
/// The model, level-triggered, for a registration whose slot still holds the incarnation it
/// had when registered (an *intact* registration; any `close` or `dup2` onto the number ends
/// that), where `queued(x)` is the number of bytes waiting to be read from file `x`:
///
/// | file                | must be readable             | must be writable               | may be writable                |
/// |---------------------|------------------------------|--------------------------------|--------------------------------|
/// | socket end, peer P  | queued > 0, or P closed      | queued(P) == 0, or P closed    | unless filled since P last read |
/// | pipe read end       | queued > 0, or writer closed | never                          | only once the writer closed    |
/// | pipe write end, R   | only once R closed (error)   | queued(R) == 0, or R closed    | unless filled since R last read |
///
/// *May be readable* equals *must be readable* everywhere: readability is exact. Writability
/// has latitude because the kernel's threshold (a quarter of the send buffer for sockets, a
/// free page for pipes) depends on sizes the model does not track; a hang-up or error counts
/// as both readiness kinds on epoll and poll but only as readability on select, hence "may"
/// for a pipe read end whose writer closed.
///
/// A registration that is not intact (its number was closed, or now names another file, or
/// it was made on a closed number, which poll and select accept) *may* report anything it
/// asked for and *must* report nothing: backends legitimately differ there.
///
/// Every `select` result must then satisfy: each entry is a registered fd, at most once,
/// with non-empty events inside its current interest; every registered fd reports at least
/// `must ∩ interest` and at most `may ∩ interest`; an unregistered fd is never reported; a
/// positive timeout with nothing that may be reported waits at least that long.
///
/// When a handler changes registrations while a batch is dispatched, each entry yielded
/// after the change must still belong to the registration that was live at the wait (not a
/// new one of the same number), masked by its interest at that moment.
///
/// **Held files** (`registrationsHoldFiles`, the uring backend): a kernel poll holds a
/// reference to the file it watches, so a file whose last number is closed stays open while a
/// registration may still hold it. Polls are armed by number at each select, so a
/// registration may hold every file its number referred to at a select since it was made,
/// until it is unregistered and the next select has run (which removes its poll). Such a file
/// *lingers*: what its peer sees (end of file or `EAGAIN`, a write taken or `EPIPE`, a
/// hang-up reported or not) may go either way, and one observed end settles it; once nothing
/// may hold it, it is closed for certain and the usual rules apply again.
struct ContractModel {
    enum Kind: CustomStringConvertible {
        case socket
        case pipeRead
        case pipeWrite

        var description: String {
            switch self {
            case .socket: "socket"
            case .pipeRead: "pipe read end"
            case .pipeWrite: "pipe write end"
            }
        }

        var canRead: Bool { self != .pipeWrite }
        var canWrite: Bool { self != .pipeRead }
    }

    struct File {
        let kind: Kind
        /// The other end: the peer socket, or the pipe's other end.
        let peer: Int
        /// How many slots refer to it.
        var references = 1
        /// Bytes waiting to be read from this file.
        var queued = 0
        /// Written until `EAGAIN` and not read from since (by the peer): not writable.
        var filled = false
        /// A socket whose peer closed with unread bytes: the next read past the queued data
        /// fails with `ECONNRESET` (Linux `unix_release_sock`) before end of file.
        var resetPending = false
        /// No slot refers to it, but a registration's poll may still hold it open.
        var isLingering = false
        /// Closed for certain.
        var isClosed: Bool { references == 0 && !isLingering }

        init(kind: Kind, peer: Int) {
            self.kind = kind
            self.peer = peer
        }
    }

    struct Slot {
        /// The file the number refers to, or nil when the number is closed.
        var file: Int?
        /// Changes each time the number is closed or reopened.
        var incarnation = 0
    }

    struct Registration {
        var events: Events
        /// The slot incarnation the registration watches; nil if made on a closed number.
        var incarnation: Int?
        /// Tells registrations of one number apart, as the selector's generations do.
        var serial: Int
        /// With held files: the files its polls may hold (see the type's comment).
        var holds: Set<Int> = []
    }

    private(set) var files: [File] = []
    private(set) var slots: [Slot]
    private(set) var registrations: [Int: Registration] = [:]
    private var serials = 0
    /// Whether the backend's kernel requests hold the files they watch.
    let registrationsHoldFiles: Bool
    /// With held files: what unregistered registrations held, let go by the end of select
    /// number `after`.
    private var released: [(files: Set<Int>, after: Int)] = []
    /// Selects started so far.
    private var selects = 0

    init(slotCount: Int, registrationsHoldFiles: Bool = false) {
        slots = Array(repeating: Slot(), count: slotCount)
        self.registrationsHoldFiles = registrationsHoldFiles
    }

    // MARK: Queries

    var slotCount: Int { slots.count }

    func isOpen(_ slot: Int) -> Bool { slots[slot].file != nil }

    func file(at slot: Int) -> File? { slots[slot].file.map { files[$0] } }

    /// The lowest closed slots, as the harness assigns them.
    func freeSlots(_ count: Int) -> [Int]? {
        let free = slots.indices.filter { slots[$0].file == nil }
        return free.count >= count ? Array(free.prefix(count)) : nil
    }

    var openSlots: [Int] { slots.indices.filter { slots[$0].file != nil } }

    func isIntact(_ slot: Int) -> Bool {
        guard let registration = registrations[slot], let incarnation = registration.incarnation else {
            return false
        }
        return slots[slot].file != nil && slots[slot].incarnation == incarnation
    }

    /// What a `select` must and may report for `slot`, masked by its interest.
    func expectation(for slot: Int) -> (must: Events, may: Events) {
        guard let registration = registrations[slot] else { return ([], []) }
        let (must, may) = readiness(for: slot)
        return (must.intersection(registration.events), may.intersection(registration.events))
    }

    /// What the kernel must and may say about the registration of `slot`, before masking: a
    /// handler that widens the interest mid-batch sees the rest of what the kernel said.
    func readiness(for slot: Int) -> (must: Events, may: Events) {
        guard isIntact(slot), let index = slots[slot].file else { return ([], .all) }
        let file = files[index]
        let peer = files[file.peer]
        var must: Events = []
        var may: Events = []
        switch file.kind {
        case .socket:
            if file.queued > 0 || peer.isClosed { must.insert(.read) }
            if peer.queued == 0 || peer.isClosed { must.insert(.write) }
            if !file.filled || peer.isClosed { may.insert(.write) }
        case .pipeRead:
            if file.queued > 0 || peer.isClosed { must.insert(.read) }
            if peer.isClosed { may.insert(.write) }
        case .pipeWrite:
            if peer.isClosed { must = .all }
            if peer.queued == 0 { must.insert(.write) }
            if !file.filled || peer.isClosed { may.insert(.write) }
        }
        // A lingering peer may have been let go already: its hang-up may show.
        if peer.isLingering { may = .all }
        may.formUnion(must)
        return (must, may)
    }

    // MARK: Changes

    /// Two new files, each other's peer, in `first` and `second`.
    mutating func open(_ kind: (Kind, Kind), at first: Int, _ second: Int) {
        let index = files.count
        files.append(File(kind: kind.0, peer: index + 1))
        files.append(File(kind: kind.1, peer: index))
        attach(index, to: first)
        attach(index + 1, to: second)
    }

    /// `target` now refers to the file of `source` (after closing what it held).
    mutating func duplicate(_ source: Int, onto target: Int) {
        guard let file = slots[source].file, source != target else { return }
        close(target)
        files[file].references += 1
        slots[target].file = file
        slots[target].incarnation += 1
    }

    mutating func close(_ slot: Int) {
        guard let index = slots[slot].file else { return }
        slots[slot].file = nil
        slots[slot].incarnation += 1
        files[index].references -= 1
        guard files[index].references == 0 else { return }
        if registrationsHoldFiles && isHeld(index) {
            files[index].isLingering = true
        } else {
            finishClosing(index)
        }
    }

    /// The last reference to a file is gone: its peer sees the hang-up.
    private mutating func finishClosing(_ index: Int) {
        files[index].isLingering = false
        let peer = files[index].peer
        // Closing a socket with unread bytes resets its peer's next read past the data.
        if files[index].kind == .socket && files[index].queued > 0 { files[peer].resetPending = true }
        files[index].queued = 0
    }

    /// Whether some registration's poll may hold the file open.
    private func isHeld(_ index: Int) -> Bool {
        registrations.values.contains { $0.holds.contains(index) }
            || released.contains { $0.files.contains(index) }
    }

    /// A select is starting: with held files, each registration's poll is armed on the file
    /// its number refers to now.
    mutating func selectStarting() {
        selects += 1
        guard registrationsHoldFiles else { return }
        for (slot, registration) in registrations {
            guard let file = slots[slot].file, !registration.holds.contains(file) else { continue }
            registrations[slot]?.holds.insert(file)
        }
    }

    /// A select has ended: the polls of registrations unregistered before it started are
    /// gone, and a lingering file nothing holds any more is closed.
    mutating func selectFinished() {
        guard registrationsHoldFiles else { return }
        released.removeAll { $0.after <= selects }
        for index in files.indices where files[index].isLingering && !isHeld(index) {
            finishClosing(index)
        }
    }

    /// The kernel showed that the lingering peer of the file in `slot` is gone (end of file,
    /// a reset, `EPIPE`).
    mutating func peerWasLetGo(_ slot: Int) {
        guard let index = slots[slot].file, files[files[index].peer].isLingering else { return }
        finishClosing(files[index].peer)
    }

    mutating func register(_ slot: Int, _ events: Events) {
        serials += 1
        registrations[slot] = Registration(
            events: events, incarnation: slots[slot].file == nil ? nil : slots[slot].incarnation,
            serial: serials)
    }

    /// A successful modify keeps the registration's incarnation: a registration that was not
    /// intact does not become intact by being modified.
    mutating func modify(_ slot: Int, _ events: Events) {
        registrations[slot]?.events = events
    }

    mutating func unregister(_ slot: Int) {
        if let holds = registrations[slot]?.holds, !holds.isEmpty {
            // Removed with the next select, so let go by its end.
            released.append((holds, selects + 1))
        }
        registrations[slot] = nil
    }

    /// `count` bytes written to the file in `slot` arrive at its peer.
    mutating func wrote(_ count: Int, from slot: Int, filled: Bool) {
        guard let index = slots[slot].file else { return }
        files[files[index].peer].queued += count
        if filled { files[index].filled = true }
    }

    /// `count` bytes were read from the file in `slot`; its peer may write again.
    mutating func read(_ count: Int, from slot: Int) {
        guard let index = slots[slot].file else { return }
        files[index].queued -= count
        if count > 0 { files[files[index].peer].filled = false }
    }

    mutating func consumeReset(at slot: Int) {
        guard let index = slots[slot].file else { return }
        files[index].resetPending = false
    }

    private mutating func attach(_ file: Int, to slot: Int) {
        slots[slot].file = file
        slots[slot].incarnation += 1
    }
}

extension ContractModel {
    /// Whether the file in `slot` has lost its other end (every descriptor of it closed, and
    /// nothing holding it).
    func peerIsClosed(_ slot: Int) -> Bool {
        guard let file = file(at: slot) else { return false }
        return files[file.peer].isClosed
    }

    /// Whether the other end of the file in `slot` lingers (see `ContractModel`).
    func peerLingers(_ slot: Int) -> Bool {
        guard let file = file(at: slot) else { return false }
        return files[file.peer].isLingering
    }

    /// The file at the other end of `slot`'s file.
    func peer(of slot: Int) -> File? {
        guard let file = file(at: slot) else { return nil }
        return files[file.peer]
    }
}
