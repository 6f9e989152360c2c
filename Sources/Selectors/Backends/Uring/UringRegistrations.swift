#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    /// What the uring backend knows of one fd: the registration, and the poll the kernel holds
    /// for it.
    struct UringSlot {
        /// The registration's `ReadyEvent` token (fd and generation).
        var token: UInt64 = 0
        var events: Events = []
        var trigger: Trigger = .level
        var isRegistered = false
        /// The arm tag of the poll the kernel holds for this fd, or 0 when it holds none (none
        /// submitted yet, or the last one completed or is being removed).
        var tag: UInt32 = 0
        /// Whether that poll is multishot.
        var isMultishot = false
        /// Whether the fd waits in the arm queue for a new poll.
        var isQueued = false
        /// A level or one-shot registration watching `.write` alone, whose poll fired for
        /// `POLLRDHUP` only (the peer shut down its side; see `UringPollMask`). The kernel
        /// adds `POLLRDHUP` to every poll, so while it lasts every single-shot poll would fire
        /// at once: the fd is armed multishot instead, which fires on wake-ups only.
        var isQuiet = false
        /// The wait that armed the current poll.
        var armBatch: UInt64 = 0
        /// Where the fd is in `UringRegistrations.waiting`, or -1.
        var waitingIndex: Int32 = -1
        /// The wait that last put this fd in the ready buffer, and where.
        var batch: UInt64 = 0
        var position: Int32 = 0
    }

    /// Every fd's `UringSlot`, indexed by fd, and what the next wait must submit: polls to
    /// remove (removals first, so a number's old poll goes before its new one) and fds to arm.
    ///
    /// Nothing here makes a system call: interest changes wait here until the next wait
    /// submits them, in the same `io_uring_enter`.
    struct UringRegistrations {
        private var slots: [UringSlot] = []
        /// Fds to arm at the next wait; an fd is in it at most once while `isQueued` (a stale
        /// entry, whose flag was cleared, is skipped).
        private(set) var armQueue: [Int32] = []
        /// Polls to remove at the next wait.
        private(set) var removals: [UringUserData] = []
        /// The level and one-shot fds whose single-shot poll is armed (see
        /// `UringBackend.recheck`), in no order.
        private(set) var waiting: [Int32] = []
        /// How many quiet (multishot, level or one-shot) polls are armed.
        private(set) var quietArmed = 0
        private(set) var count = 0
        private var lastTag: UInt32 = 0

        subscript(fd: Int32) -> UringSlot {
            @inline(__always) get { slots[Int(fd)] }
        }

        /// Changes the slot of `fd` in place.
        @inline(__always)
        mutating func update<Result>(_ fd: Int32, _ body: (inout UringSlot) -> Result) -> Result {
            body(&slots[Int(fd)])
        }

        /// Whether `fd` has a slot (registered or not).
        @inline(__always)
        func contains(_ fd: Int32) -> Bool { fd >= 0 && Int(fd) < slots.count }

        /// A new registration: armed at the next wait.
        mutating func add(fd: Int32, events: Events, trigger: Trigger, token: UInt64) {
            let index = Int(fd)
            if index >= slots.count {
                slots.append(
                    contentsOf: repeatElement(
                        UringSlot(), count: max(index + 1, slots.count * 2) - slots.count))
            }
            let batch = slots[index].batch
            slots[index] = UringSlot(
                token: token, events: events, trigger: trigger, isRegistered: true, batch: batch)
            count += 1
            queueArm(fd)
        }

        /// New events or trigger, or a one-shot re-arm: the poll the kernel holds (if any) is
        /// removed and a new one armed at the next wait.
        mutating func modify(fd: Int32, events: Events, trigger: Trigger, token: UInt64) {
            disarm(fd)
            update(fd) { slot in
                slot.events = events
                slot.trigger = trigger
                slot.token = token
                slot.isQuiet = false
            }
            queueArm(fd)
        }

        /// Forgets the registration; its poll, if the kernel holds one, is removed at the next wait.
        mutating func remove(fd: Int32) {
            disarm(fd)
            update(fd) { slot in
                slot.isRegistered = false
                slot.isQueued = false
            }
            count -= 1
        }

        /// Puts `fd` in the arm queue, once.
        @inline(__always)
        mutating func queueArm(_ fd: Int32) {
            guard !slots[Int(fd)].isQueued else { return }
            slots[Int(fd)].isQueued = true
            armQueue.append(fd)
        }

        /// Puts `fd` back in the arm queue after it was taken out unarmed (its `isQueued` is
        /// still set).
        mutating func requeueArm(_ fd: Int32) {
            armQueue.append(fd)
        }

        /// Records the poll just submitted for `fd`.
        @inline(__always)
        mutating func armed(_ fd: Int32, tag: UInt32, multishot: Bool, batch: UInt64) {
            let slot = slots[Int(fd)]
            slots[Int(fd)].tag = tag
            slots[Int(fd)].isMultishot = multishot
            slots[Int(fd)].armBatch = batch
            if slot.trigger == .edge { return }
            if multishot {
                quietArmed += 1
            } else {
                slots[Int(fd)].waitingIndex = Int32(waiting.count)
                waiting.append(fd)
            }
        }

        /// The kernel no longer holds the current poll of `fd` for us (it completed, or is being
        /// removed): from here on its completions carry a tag the slot does not have.
        @inline(__always)
        mutating func retire(_ fd: Int32) {
            let slot = slots[Int(fd)]
            guard slot.tag != 0 else { return }
            slots[Int(fd)].tag = 0
            if slot.trigger == .edge { return }
            if slot.isMultishot {
                quietArmed -= 1
            } else if slot.waitingIndex >= 0 {
                let last = waiting.removeLast()
                if last != fd {
                    waiting[Int(slot.waitingIndex)] = last
                    slots[Int(last)].waitingIndex = slot.waitingIndex
                }
                slots[Int(fd)].waitingIndex = -1
            }
        }

        /// Retires the poll the kernel holds for `fd` and queues its removal.
        @inline(__always)
        mutating func disarm(_ fd: Int32) {
            let tag = slots[Int(fd)].tag
            guard tag != 0 else { return }
            removals.append(.poll(fd: fd, tag: tag))
            retire(fd)
        }

        /// Queues the removal of a poll again (its first removal found its completion running).
        mutating func retryRemoval(of poll: UringUserData) {
            removals.append(poll)
        }

        /// A retired poll completed after all: a removal queued for it is not needed.
        mutating func forgetRemoval(of poll: UringUserData) {
            guard !removals.isEmpty, let index = removals.lastIndex(of: poll) else { return }
            removals.remove(at: index)
        }

        /// A fresh arm tag: 1 through 2^31 - 1, then around again.
        @inline(__always)
        mutating func nextTag() -> UInt32 {
            lastTag = lastTag >= 0x7FFF_FFFF ? 1 : lastTag + 1
            return lastTag
        }

        /// Swaps the arm queue with `other` (an empty array the caller keeps, so neither is
        /// reallocated in steady state). Entries whose `isQueued` flag is clear are stale.
        mutating func swapArmQueue(with other: inout [Int32]) {
            swap(&armQueue, &other)
        }

        /// Swaps the removal queue with `other`, as `swapArmQueue` does.
        mutating func swapRemovals(with other: inout [UringUserData]) {
            swap(&removals, &other)
        }

        /// After the ring was replaced: nothing is armed any more, so every registration that
        /// was armed or about to be is queued again, and pending removals are dropped (the old
        /// ring took its polls with it). A disarmed one-shot registration stays disarmed.
        mutating func forgetKernelState() {
            removals.removeAll()
            waiting.removeAll()
            quietArmed = 0
            for index in slots.indices where slots[index].isRegistered {
                slots[index].waitingIndex = -1
                if slots[index].tag != 0 || slots[index].isQueued {
                    slots[index].tag = 0
                    slots[index].isQueued = false
                    queueArm(Int32(index))
                }
            }
        }

        var hasQueuedWork: Bool { !armQueue.isEmpty || !removals.isEmpty }
    }
#endif
