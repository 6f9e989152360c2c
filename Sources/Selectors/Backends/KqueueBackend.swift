#if canImport(Darwin) || os(FreeBSD) || os(OpenBSD) || SELECTORS_BSD_TYPECHECK
    import CSelectors

    /// BSD and Apple `kqueue(2)`: one read filter and one write filter per fd.
    ///
    /// Compiled only where kqueue exists. The token travels in `udata`. kqueue reports the two
    /// filters of one fd as separate kevents; the wait merges them, because the selector's
    /// contract is one entry per ready fd.
    final class KqueueBackend: PollingBackend {
        private let queueFD: Int32
        private var kernelEvents: UnsafeMutableBufferPointer<kevent>
        /// Per fd: the batch stamp and position of its entry in the current wait's output.
        private var mergeStamps: [UInt64] = []
        private var mergePositions: [Int32] = []
        // 64-bit so it never wraps: a wrapped stamp would match stale (or never-written) slots.
        private var stamp: UInt64 = 0

        init() throws(Errno) {
            queueFD = try SystemCall.once { kqueue() }
            _ = cselectors_fcntl_set(queueFD, F_SETFD, FD_CLOEXEC)
            kernelEvents = .allocate(capacity: 128)
        }

        func add(fd: Int32, events: Events, token: UInt64) throws(Errno) {
            try apply(fd, adding: events, removing: [], token: token)
        }

        func modify(fd: Int32, from oldEvents: Events, to newEvents: Events, token: UInt64) throws(Errno) {
            try apply(fd, adding: newEvents, removing: oldEvents.subtracting(newEvents), token: token)
        }

        func remove(fd: Int32, events: Events) throws(Errno) {
            try apply(fd, adding: [], removing: events, token: 0)
        }

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
                } else if written < buffer.count {
                    remember(fd, at: written)
                    buffer[written] = ReadyEvent(token: token, events: events)
                    written += 1
                }
            }
            return written
        }

        func close() {
            SystemCall.close(queueFD)
            kernelEvents.deallocate()
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

        private func apply(_ fd: Int32, adding: Events, removing: Events, token: UInt64) throws(Errno) {
            var changes: [kevent] = []
            let udata = UnsafeMutableRawPointer(bitPattern: UInt(token))
            for (event, filter) in [(Events.read, EVFILT_READ), (Events.write, EVFILT_WRITE)] {
                if adding.contains(event) { changes.append(change(fd, filter, EV_ADD, udata)) }
                if removing.contains(event) { changes.append(change(fd, filter, EV_DELETE, nil)) }
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
