/// The registrations, indexed by fd (a `DescriptorTable`, so the per-event lookup is one
/// bounds check and a load). Each slot also remembers the generation of its last
/// registration, which survives unregistration so the next registration of the same number
/// gets a new one.
///
/// **The one place the selector counts references by hand.** Each slot holds its handler as
/// an `Unmanaged<SharedHandler>` with one retain taken at insertion, so a slot is a trivial
/// value: reading one for an event copies no reference and costs no retain and release, and
/// the dispatch calls the handler through `Unretained`. That saved 40-50
/// instructions per dispatched event (measured with callgrind, echo round trip). What makes
/// the +0 call sound: a handler removed or replaced while a batch is being dispatched (a
/// handler unregistering itself, say) is not released at once but *retired*, and retired
/// handlers are released only once no handler is running (`Selector.releaseRetired`), so the
/// one being called is alive until it returns.
///
/// A registration may also *borrow* its handler (`Connections` does, for the one handler all
/// its connections share, which it keeps alive for as long as any is registered): the slot
/// then holds no reference, so registering and removing take no retain, release or retirement
/// (callgrind: 60 instructions per connection cycle).
struct KeyTable: ~Copyable {
    /// All-zero bytes are an empty slot: no handler, no events, `.level`, generation 0.
    private var slots: DescriptorTable<Slot>
    private(set) var count = 0
    /// How many registrations are one-shot (see `Selector.noteDisarmedOneShots`).
    private(set) var oneShotCount = 0
    /// Handlers removed and not yet released: a plain buffer, since an array's
    /// append (a uniqueness check) and clearing (a generic range replacement) cost the
    /// connection cycle about 90 instructions.
    private var retired = UnsafeMutableBufferPointer<Unmanaged<SharedHandler>>.allocate(capacity: 16)
    private var retiredCount = 0

    struct Slot {
        /// The handler, retained once unless borrowed; nil when the fd is not registered.
        var handler: Unmanaged<SharedHandler>?
        var events: Events = []
        var trigger: Trigger = .level
        /// Whether the registrant keeps `handler` alive, and the slot holds no reference.
        var isBorrowed = false
        var generation: UInt32 = 0
        /// The selector's batch (truncated) when `fd` was last unregistered; kept across
        /// registrations. See `Selector.checkStaleEvents`.
        var removedInBatch: UInt32 = 0
        /// A one-shot registration the kernel has reported since it was last armed, which it
        /// has therefore disarmed (noted only where the interest set may be rebuilt).
        var isDisarmed = false
        /// Left out of the kernel's interest set by a rebuild, being disarmed: nothing to
        /// remove from the kernel, and the next `modify` adds it there (armed) again.
        var isOutsideKernel = false

        /// The handler, if the slot holds a reference to it.
        var ownedHandler: Unmanaged<SharedHandler>? { isBorrowed ? nil : handler }
    }

    /// A table for fds below `reservedCount` (by default, every fd the process may open; the
    /// scripted backend, whose fds are plain numbers, asks for its own limit).
    init(reservedCount: Int = DescriptorTableReservation.count) {
        slots = DescriptorTable<Slot>(capacity: 64, reservedCount: reservedCount)
    }

    deinit {
        if slots.highestFD >= 0 {
            for fd in 0...slots.highestFD { slots[fd].pointee.ownedHandler?.release() }
        }
        slots.deallocate()
        for index in 0..<retiredCount { retired[index].release() }
        retired.deallocate()
    }

    /// The fds from here up can never be registered: the table's reservation ends there.
    var reservedCount: Int { slots.reservedCount }

    /// The live registration of `fd`, if any.
    @inline(__always)
    func slot(_ fd: Int32) -> Slot? {
        liveEntry(fd)?.pointee
    }

    /// Where the live registration of `fd` is kept, if it has one.
    @inline(__always)
    private func liveEntry(_ fd: Int32) -> UnsafeMutablePointer<Slot>? {
        guard let slot = slots.existing(fd), slot.pointee.handler != nil else { return nil }
        return slot
    }

    /// Whether `fd` was unregistered during `batch` (or during a batch 2^32 earlier, which
    /// at worst delays a ghost's detection to its next event).
    func wasRemoved(_ fd: Int32, inBatch batch: UInt64) -> Bool {
        slots.existing(fd)?.pointee.removedInBatch == UInt32(truncatingIfNeeded: batch)
    }

    /// The key of `fd`'s live registration, if any (one retain, for the key's reference).
    func key(_ fd: Int32) -> SelectorKey? {
        slot(fd).map { SelectorKey(fd: fd, slot: $0) }
    }

    /// Registers `fd` under its next generation, which it returns. A `borrowed` handler is not
    /// retained: the caller keeps it alive until the registration is removed and no batch is
    /// running. One lookup for the check, the generation and the write (three cost the
    /// connection cycle 15 instructions, callgrind).
    /// - Throws: `alreadyRegistered`, or why the table cannot hold `fd` (negative, or see
    ///   `DescriptorTable.refusal`).
    @inline(__always)
    mutating func claim(
        _ fd: Int32, events: Events, trigger: Trigger, handler: Unmanaged<SharedHandler>, borrowed: Bool
    ) throws(SelectorError) -> UInt32 {
        guard let slot = slots.entry(for: fd) else {
            throw SelectorError(.register, fd: fd, slots.refusal(for: fd))
        }
        guard slot.pointee.handler == nil else { throw SelectorError(.register, fd: fd, .alreadyRegistered) }
        let generation = slot.pointee.generation &+ 1
        fill(
            slot, events: events, trigger: trigger, handler: handler, borrowed: borrowed,
            generation: generation)
        return generation
    }

    /// Registers `fd` again under `generation`, after `cancelInsert` (see
    /// `Selector.addRefused`). The table has room for `fd` already.
    mutating func insert(
        _ fd: Int32, events: Events, trigger: Trigger, handler: Unmanaged<SharedHandler>, borrowed: Bool,
        generation: UInt32
    ) {
        fill(
            slots[fd], events: events, trigger: trigger, handler: handler, borrowed: borrowed,
            generation: generation)
    }

    @inline(__always)
    private mutating func fill(
        _ slot: UnsafeMutablePointer<Slot>, events: Events, trigger: Trigger,
        handler: Unmanaged<SharedHandler>, borrowed: Bool,
        generation: UInt32
    ) {
        slot.pointee = Slot(
            handler: borrowed ? handler : handler.retain(), events: events, trigger: trigger,
            isBorrowed: borrowed, generation: generation, removedInBatch: slot.pointee.removedInBatch)
        count += 1
        if trigger == .oneShot { oneShotCount += 1 }
    }

    /// Takes back the `insert` of `fd` just made (the kernel refused the registration): its
    /// reference to the handler is released at once, as no handler call can have seen it.
    mutating func cancelInsert(_ fd: Int32) {
        let slot = slots[fd]
        slot.pointee.ownedHandler?.release()
        slot.pointee.handler = nil
        count -= 1
        if slot.pointee.trigger == .oneShot { oneShotCount -= 1 }
    }

    /// A one-shot registration of `fd` under `generation` was reported: the kernel disarmed it.
    mutating func noteReported(_ fd: Int32, generation: UInt32) {
        guard let slot = liveEntry(fd), slot.pointee.generation == generation,
            slot.pointee.trigger == .oneShot
        else { return }
        slot.pointee.isDisarmed = true
    }

    /// Whether a rebuilt interest set should leave `fd` out, being a disarmed one-shot
    /// registration (the kernel cannot hold a disarmed one: an add arms it); if so, notes
    /// that it is out.
    mutating func leavesOutOfRebuiltKernel(_ fd: Int32) -> Bool {
        guard let slot = liveEntry(fd), slot.pointee.isDisarmed else { return false }
        slot.pointee.isOutsideKernel = true
        return true
    }

    /// Changes a live registration; a new handler replaces (and retires) the old one. The
    /// kernel's registration was just changed (or added, when it was outside the kernel), which
    /// re-arms a one-shot one.
    mutating func update(_ fd: Int32, events: Events, trigger: Trigger, handler: SharedHandler?) {
        let slot = slots[fd]
        slot.pointee.isDisarmed = false
        slot.pointee.isOutsideKernel = false
        if slot.pointee.trigger == .oneShot { oneShotCount -= 1 }
        if trigger == .oneShot { oneShotCount += 1 }
        slot.pointee.events = events
        slot.pointee.trigger = trigger
        if let handler, let old = slot.pointee.handler,
            old.toOpaque() != Unmanaged.passUnretained(handler).toOpaque()
        {
            if let owned = slot.pointee.ownedHandler { retire(owned) }
            slot.pointee.handler = Unmanaged.passRetained(handler)
            slot.pointee.isBorrowed = false
        }
    }

    /// Unregisters `fd`, noting `batch` as the one it was removed in; returns the events the
    /// kernel watches for it (none when it is outside the kernel), or nil if it was not
    /// registered. Inlined into the selector's two removals (callgrind: a call of its own cost
    /// 12 instructions per connection cycle).
    @inline(__always)
    mutating func remove(_ fd: Int32, inBatch batch: UInt64) -> Events? {
        guard let slot = liveEntry(fd) else { return nil }
        if let owned = slot.pointee.ownedHandler { retire(owned) }
        slot.pointee.handler = nil
        slot.pointee.removedInBatch = UInt32(truncatingIfNeeded: batch)
        count -= 1
        if slot.pointee.trigger == .oneShot { oneShotCount -= 1 }
        return slot.pointee.isOutsideKernel ? [] : slot.pointee.events
    }

    /// Unregisters everything (the selector is closing); the handlers are retired, not
    /// released, since one of them may be running.
    mutating func removeAll() {
        guard slots.highestFD >= 0 else { return }
        for fd in 0...slots.highestFD {
            if let owned = slots[fd].pointee.ownedHandler { retire(owned) }
            slots[fd].pointee.handler = nil
        }
        count = 0
        oneShotCount = 0
    }

    @inline(__always)
    private mutating func retire(_ handler: Unmanaged<SharedHandler>) {
        if retiredCount == retired.count { growRetired() }
        retired[retiredCount] = handler
        retiredCount += 1
    }

    private mutating func growRetired() {
        let grown = UnsafeMutableBufferPointer<Unmanaged<SharedHandler>>.allocate(capacity: retired.count * 2)
        _ = grown.initialize(fromContentsOf: retired)
        retired.deallocate()
        retired = grown
    }

    /// Whether a removed handler waits to be released (see `Selector.releaseRetired`).
    var hasRetired: Bool { retiredCount > 0 }

    /// Takes the last retired handler off the list, for the selector to release. One at a
    /// time, and nothing is called while the table changes: a release can run a deinit that
    /// unregisters another fd, which retires one more.
    mutating func popRetired() -> Unmanaged<SharedHandler>? {
        guard retiredCount > 0 else { return nil }
        retiredCount -= 1
        return retired[retiredCount]
    }

    /// Every registered key, in fd order.
    var allKeys: [SelectorKey] {
        var keys: [SelectorKey] = []
        keys.reserveCapacity(count)
        guard slots.highestFD >= 0 else { return keys }
        for fd in 0...slots.highestFD where slots[fd].pointee.handler != nil {
            keys.append(SelectorKey(fd: fd, slot: slots[fd].pointee))
        }
        return keys
    }
}
