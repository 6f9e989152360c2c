#if canImport(Darwin) || os(FreeBSD) || SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    // The 64-bit token (fd and generation) rides in `kevent.udata`, a pointer: on a 32-bit
    // platform (watchOS's arm64_32) the generation would not fit, and converting it would trap.
    #if !_pointerBitWidth(_64)
        #error("The kqueue backend needs 64-bit pointers: it carries a 64-bit token in kevent.udata.")
    #endif

    /// BSD and Apple `kqueue(2)`: one read filter and one write filter per fd.
    ///
    /// Compiled only where kqueue exists. The token travels in `udata`. kqueue reports the two
    /// filters of one fd as separate kevents; the wait merges them, because the selector's
    /// contract is one entry per ready fd.
    ///
    /// A regular file is accepted, and reported readable while its offset is below its size
    /// (kqueue's rule for files: an empty file, or one read to its end, is not reported) and
    /// writable always.
    ///
    /// Trigger modes: edge is `EV_CLEAR`, one-shot `EV_DISPATCH` (the filter is disabled after
    /// delivery and kept, so re-arming is an `EV_ENABLE`, not a new knote). Both are per
    /// filter, while `Trigger` speaks of the whole fd: when one filter of a one-shot fd has been
    /// reported, the wait drops the other filter's later report (which disables it too) until
    /// `modify` re-arms both. `EV_ADD` on an existing knote re-checks its readiness, so a modify
    /// reports what is ready, as epoll's `EPOLL_CTL_MOD` does; it does not change the flags an
    /// existing knote was created with, so a change of trigger deletes and re-adds the filters.
    final class KqueueBackend: PollingBackend {
        private let queueFD: Int32
        private var kernelEvents: UnsafeMutableBufferPointer<kevent>
        /// Per fd: the batch stamp and position of its entry in the current wait's output.
        private var mergeStamps: [UInt64] = []
        private var mergePositions: [Int32] = []
        // 64-bit so it never wraps: a wrapped stamp would match stale (or never-written) slots.
        private var stamp: UInt64 = 0
        /// Per fd: whether it is one-shot, and if so whether it has been reported since it was
        /// last armed.
        private var oneShotStates: [OneShotState] = []

        private enum OneShotState {
            case notOneShot, armed, reported
        }

        init() throws(Errno) {
            queueFD = try SystemCall.once { kqueue() }
            _ = cselectors_fcntl_set(queueFD, F_SETFD, FD_CLOEXEC)
            kernelEvents = .allocate(capacity: 128)
        }

        func add(fd: Int32, events: Events, trigger: Trigger, token: UInt64) throws(Errno) {
            try apply(fd, adding: events, removing: [], flags: KqueueBackend.flags(trigger), token: token)
            setOneShotState(fd, trigger == .oneShot ? .armed : .notOneShot)
        }

        func modify(fd: Int32, from old: Interest, to new: Interest, token: UInt64) throws(Errno) {
            // A changed trigger needs new knotes; the old filters go first in the same list.
            let removing = new.trigger == old.trigger ? old.events.subtracting(new.events) : old.events
            try apply(
                fd, adding: new.events, removing: removing, flags: KqueueBackend.flags(new.trigger),
                token: token)
            setOneShotState(fd, new.trigger == .oneShot ? .armed : .notOneShot)
        }

        func remove(fd: Int32, events: Events) throws(Errno) {
            setOneShotState(fd, .notOneShot)
            try apply(fd, adding: [], removing: events, flags: 0, token: 0)
        }

        // Inlined into its protocol witness, as `EpollBackend.wait` is (one call per wait).
        @inline(__always)
        func wait(timeout: WaitTimeout?, into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno)
            -> Int
        {
            // Two filters per fd: room for both, so no fd's second half is cut off.
            if kernelEvents.count < buffer.count * 2 {
                kernelEvents.deallocate()
                kernelEvents = .allocate(capacity: buffer.count * 2)
            }
            var spec = timeout?.timespec ?? timespec()
            let received = try withUnsafePointer(to: &spec) { specPointer throws(Errno) -> Int32 in
                try SystemCall.once {
                    kevent(
                        queueFD, nil, 0, kernelEvents.baseAddress, Int32(buffer.count * 2),
                        timeout == nil ? nil : specPointer)
                }
            }
            stamp &+= 1
            var written = 0
            for index in 0..<Int(received) {
                let event = kernelEvents[index]
                var events: Events = Int32(event.filter) == Int32(EVFILT_READ) ? .read : .write
                if event.flags & UInt16(EV_EOF | EV_ERROR) != 0 { events = .all }
                let fd = Int32(truncatingIfNeeded: event.ident)
                let token = UInt64(UInt(bitPattern: event.udata))
                if let position = mergedPosition(of: fd) {
                    buffer[position].events.formUnion(events)
                } else if oneShotState(fd) == .reported {
                    continue  // the other filter of a one-shot fd reported since its arming
                } else if written < buffer.count {
                    remember(fd, at: written)
                    buffer[written] = ReadyEvent(token: token, events: events)
                    written += 1
                    if oneShotState(fd) == .armed { setOneShotState(fd, .reported) }
                }
            }
            return written
        }

        func close() {
            SystemCall.close(queueFD)
            kernelEvents.deallocate()
        }

        private func oneShotState(_ fd: Int32) -> OneShotState {
            Int(fd) < oneShotStates.count ? oneShotStates[Int(fd)] : .notOneShot
        }

        private func setOneShotState(_ fd: Int32, _ state: OneShotState) {
            let index = Int(fd)
            if index >= oneShotStates.count {
                guard state != .notOneShot else { return }
                let grown = max(index + 1, oneShotStates.count * 2)
                oneShotStates.append(
                    contentsOf: repeatElement(.notOneShot, count: grown - oneShotStates.count))
            }
            oneShotStates[index] = state
        }

        private func mergedPosition(of fd: Int32) -> Int? {
            let index = Int(fd)
            guard index < mergeStamps.count, mergeStamps[index] == stamp else { return nil }
            return Int(mergePositions[index])
        }

        private func remember(_ fd: Int32, at position: Int) {
            let index = Int(fd)
            if index >= mergeStamps.count {
                let grown = max(index + 1, mergeStamps.count * 2)
                mergeStamps.append(contentsOf: repeatElement(0, count: grown - mergeStamps.count))
                mergePositions.append(contentsOf: repeatElement(0, count: grown - mergePositions.count))
            }
            mergeStamps[index] = stamp
            mergePositions[index] = Int32(position)
        }

        /// `EV_CLEAR` for edge; `EV_DISPATCH` with `EV_ENABLE` for one-shot, so adding also
        /// re-enables a filter that a delivery disabled.
        private static func flags(_ trigger: Trigger) -> Int32 {
            switch trigger {
            case .level: 0
            case .edge: Int32(EV_CLEAR)
            case .oneShot: Int32(EV_DISPATCH) | Int32(EV_ENABLE)
            }
        }

        private func apply(_ fd: Int32, adding: Events, removing: Events, flags: Int32, token: UInt64)
            throws(Errno)
        {
            var changes: [kevent] = []
            let udata = UnsafeMutableRawPointer(bitPattern: UInt(token))
            // Deletions first: a change of trigger deletes and re-adds the same filter.
            for (event, filter) in [(Events.read, EVFILT_READ), (Events.write, EVFILT_WRITE)] {
                if removing.contains(event) { changes.append(change(fd, filter, EV_DELETE, nil)) }
            }
            for (event, filter) in [(Events.read, EVFILT_READ), (Events.write, EVFILT_WRITE)] {
                if adding.contains(event) { changes.append(change(fd, filter, EV_ADD | flags, udata)) }
            }
            do {
                _ = try changes.withUnsafeBufferPointer { list throws(Errno) -> Int32 in
                    try SystemCall.once { kevent(queueFD, list.baseAddress, Int32(list.count), nil, 0, nil) }
                }
            } catch {
                // kevent applies a change list up to the first change that fails, so a filter
                // added before it would stay armed with no key behind it (and wake every wait).
                // Delete each filter this call touched, one at a time, ignoring errors: the
                // selector then forgets the fd (register and modify failures remove the key).
                for filter in [EVFILT_READ, EVFILT_WRITE] {
                    var single = change(fd, filter, EV_DELETE, nil)
                    _ = kevent(queueFD, &single, 1, nil, 0, nil)
                }
                throw error
            }
        }

        private func change(_ fd: Int32, _ filter: Int32, _ flags: Int32, _ udata: UnsafeMutableRawPointer?)
            -> kevent
        {
            var event = kevent()
            event.ident = UInt(fd)
            event.filter = Int16(filter)
            event.flags = UInt16(flags)
            event.udata = udata
            return event
        }
    }
#endif
