#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    /// What the uring backend knows of one fd: the registration, and the poll the kernel holds
    /// for it.
    struct UringSlot {
        /// The registration's `ReadyEvent` token (fd and generation).
        var token: UInt64 = 0
        /// The wait that last put this fd in the ready buffer, and where.
        var batch: UInt64 = 0
        /// The wait that armed the current poll.
        var armBatch: UInt64 = 0
        /// The arm tag of the poll the kernel holds for this fd, or 0 when it holds none (none
        /// submitted yet, or the last one completed or is being removed).
        var tag: UInt32 = 0
        var position: Int32 = 0
        /// Where the fd is in `UringRegistrations.waiting`, or -1.
        var waitingIndex: Int32 = -1
        var events: Events = []
        var trigger: Trigger = .level
        var isRegistered = false
        /// Whether the kernel's poll is multishot.
        var isMultishot = false
        /// Whether the fd waits in the arm queue for a new poll.
        var isQueued = false
        /// A level or one-shot registration watching `.write` alone, whose poll fired for
        /// `POLLRDHUP` only (the peer shut down its side; see `UringPollMask`). The kernel
        /// adds `POLLRDHUP` to every poll, so while it lasts every single-shot poll would fire
        /// at once: the fd is armed multishot instead, which fires on wake-ups only.
        var isQuiet = false
    }

    /// Every fd's `UringSlot`, indexed by fd, and what the next wait must submit: polls to
    /// remove (removals first, so a number's old poll goes before its new one) and fds to arm.
    ///
    /// Nothing here makes a system call: interest changes wait here until the next wait
    /// submits them, in the same `io_uring_enter`. The storage is `UringBuffer`s (see there
    /// for why, and for the rules): `deallocate` must be called once, when the backend closes.
    struct UringRegistrations {
        private var slots = UringBuffer<UringSlot>(capacity: 64)
        /// Fds to arm at the next wait; an fd is in it at most once while `isQueued` (an
        /// entry whose flag was cleared since is skipped).
        var armQueue = UringBuffer<Int32>(capacity: 64)
        /// Polls to remove at the next wait.
        var removals = UringBuffer<UringUserData>(capacity: 16)
        /// The level and one-shot fds whose single-shot poll is armed (see
        /// `UringBackend.recheckWaitingPolls`), in no order.
        private(set) var waiting = UringBuffer<Int32>(capacity: 64)
        /// How many quiet (multishot, level or one-shot) polls are armed.
        private(set) var quietArmed = 0
        private(set) var count = 0
        private var lastTag: UInt32 = 0

        func deallocate() {
            slots.deallocate()
            armQueue.deallocate()
            removals.deallocate()
            waiting.deallocate()
        }

        /// The slot of `fd`, to read and change in place: valid until the next `add`.
        @inline(__always)
        func slot(_ fd: Int32) -> UnsafeMutablePointer<UringSlot> { slots.pointer(at: Int(fd)) }

        /// Whether `fd` has a slot (registered or not).
        @inline(__always)
        func contains(_ fd: Int32) -> Bool { fd >= 0 && Int(fd) < slots.count }

        /// A new registration: armed at the next wait.
        mutating func add(fd: Int32, events: Events, trigger: Trigger, token: UInt64) {
            if Int(fd) >= slots.count {
                slots.grow(to: max(Int(fd) + 1, slots.count * 2), filling: UringSlot())
            }
            let slot = self.slot(fd)
            slot.pointee = UringSlot(
                token: token, batch: slot.pointee.batch, events: events, trigger: trigger, isRegistered: true)
            count += 1
            queueArm(fd)
        }

        /// New events or trigger, or a one-shot re-arm: the poll the kernel holds (if any) is
        /// removed and a new one armed at the next wait.
        mutating func modify(fd: Int32, events: Events, trigger: Trigger, token: UInt64) {
            disarm(fd)
            let slot = self.slot(fd)
            slot.pointee.events = events
            slot.pointee.trigger = trigger
            slot.pointee.token = token
            slot.pointee.isQuiet = false
            queueArm(fd)
        }

        /// Forgets the registration; its poll, if the kernel holds one, is removed at the next wait.
        mutating func remove(fd: Int32) {
            disarm(fd)
            slot(fd).pointee.isRegistered = false
            slot(fd).pointee.isQueued = false
            count -= 1
        }

        /// Puts `fd` in the arm queue, once.
        @inline(__always)
        mutating func queueArm(_ fd: Int32) {
            let slot = self.slot(fd)
            guard !slot.pointee.isQueued else { return }
            slot.pointee.isQueued = true
            armQueue.append(fd)
        }

        /// Records the poll just submitted for `fd`.
        @inline(__always)
        mutating func armed(_ fd: Int32, tag: UInt32, multishot: Bool, batch: UInt64) {
            let slot = self.slot(fd)
            slot.pointee.tag = tag
            slot.pointee.isMultishot = multishot
            slot.pointee.armBatch = batch
            if slot.pointee.trigger == .edge { return }
            if multishot {
                quietArmed += 1
            } else {
                slot.pointee.waitingIndex = Int32(waiting.count)
                waiting.append(fd)
            }
        }

        /// The kernel no longer holds the current poll of `fd` for us (it completed, or is being
        /// removed): from here on its completions carry a tag the slot does not have.
        @inline(__always)
        mutating func retire(_ fd: Int32) {
            let slot = self.slot(fd)
            guard slot.pointee.tag != 0 else { return }
            slot.pointee.tag = 0
            if slot.pointee.trigger == .edge { return }
            if slot.pointee.isMultishot {
                quietArmed -= 1
            } else if slot.pointee.waitingIndex >= 0 {
                let index = slot.pointee.waitingIndex
                let last = waiting.removeLast()
                if last != fd {
                    waiting[Int(index)] = last
                    self.slot(last).pointee.waitingIndex = index
                }
                slot.pointee.waitingIndex = -1
            }
        }

        /// Retires the poll the kernel holds for `fd` and queues its removal.
        @inline(__always)
        mutating func disarm(_ fd: Int32) {
            let tag = slot(fd).pointee.tag
            guard tag != 0 else { return }
            removals.append(.poll(fd: fd, tag: tag))
            retire(fd)
        }

        /// A retired poll completed after all: a removal queued for it is not needed.
        mutating func forgetRemoval(of poll: UringUserData) {
            var index = removals.count
            while index > 0 {
                index -= 1
                guard removals[index] == poll else { continue }
                let last = removals.removeLast()
                if index < removals.count { removals[index] = last }
                return
            }
        }

        /// A fresh arm tag: 1 through 2^31 - 1, then around again.
        @inline(__always)
        mutating func nextTag() -> UInt32 {
            lastTag = lastTag >= 0x7FFF_FFFF ? 1 : lastTag + 1
            return lastTag
        }

        /// After the ring was replaced: nothing is armed any more, so every registration that
        /// was armed or about to be is queued again, and pending removals are dropped (the old
        /// ring took its polls with it). A disarmed one-shot registration stays disarmed.
        mutating func forgetKernelState() {
            removals.removeAll()
            waiting.removeAll()
            quietArmed = 0
            for index in 0..<slots.count where slots[index].isRegistered {
                let slot = slots.pointer(at: index)
                slot.pointee.waitingIndex = -1
                if slot.pointee.tag != 0 || slot.pointee.isQueued {
                    slot.pointee.tag = 0
                    slot.pointee.isQueued = false
                    queueArm(Int32(index))
                }
            }
        }

        var hasQueuedWork: Bool { !armQueue.isEmpty || !removals.isEmpty }
    }
#endif
