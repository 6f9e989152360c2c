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
        private(set) var count = 0
        private var lastTag: UInt32 = 0

        subscript(fd: Int32) -> UringSlot {
            @inline(__always) get { slots[Int(fd)] }
            @inline(__always) set { slots[Int(fd)] = newValue }
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
            slots[Int(fd)].events = events
            slots[Int(fd)].trigger = trigger
            slots[Int(fd)].token = token
            slots[Int(fd)].isQuiet = false
            queueArm(fd)
        }

        /// Forgets the registration; its poll, if the kernel holds one, is removed at the next wait.
        mutating func remove(fd: Int32) {
            disarm(fd)
            slots[Int(fd)].isRegistered = false
            slots[Int(fd)].isQueued = false
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

        /// Stops counting on the poll the kernel holds for `fd` and queues its removal. From
        /// here on its completions carry a tag the slot no longer has, and are dropped.
        @inline(__always)
        mutating func disarm(_ fd: Int32) {
            let slot = slots[Int(fd)]
            guard slot.tag != 0 else { return }
            removals.append(.poll(fd: fd, tag: slot.tag))
            slots[Int(fd)].tag = 0
        }

        /// Queues the removal of a poll again (its first removal found its completion running).
        mutating func retryRemoval(of poll: UringUserData) {
            removals.append(poll)
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
            for index in slots.indices where slots[index].isRegistered {
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
