import CSelectors

/// POSIX `select(2)`: two `fd_set` bitmaps copied into every wait.
///
/// Limited to fds below `FD_SETSIZE` (1024): `FD_SET` on a larger fd writes past the bitmap,
/// so the selector refuses such fds at registration.
final class SelectBackend: PollingBackend {
    let descriptorLimit = cselectors_fd_setsize()
    private var readInterest = fd_set()
    private var writeInterest = fd_set()
    /// The watched fds, dense, for the scan after a wait.
    private var watched: [Int32] = []
    /// The highest watched fd (select's first argument is one more), or -1. Kept up to date
    /// so a wait need not search for it; only removing the highest fd rescans.
    private var highest: Int32 = -1
    /// Per fd: its position in `watched` (or -1) and its token.
    private var positions: [Int32]
    private var tokens: [UInt64]

    init() {
        positions = Array(repeating: -1, count: Int(descriptorLimit))
        tokens = Array(repeating: 0, count: Int(descriptorLimit))
        cselectors_fd_zero(&readInterest)
        cselectors_fd_zero(&writeInterest)
    }

    func add(fd: Int32, events: Events, token: UInt64) throws(Errno) {
        positions[Int(fd)] = Int32(watched.count)
        watched.append(fd)
        highest = max(highest, fd)
        setInterest(fd, events, token)
    }

    func modify(fd: Int32, from oldEvents: Events, to newEvents: Events, token: UInt64) throws(Errno) {
        setInterest(fd, newEvents, token)
    }

    func remove(fd: Int32, events: Events) throws(Errno) {
        setInterest(fd, [], 0)
        let position = Int(positions[Int(fd)])
        positions[Int(fd)] = -1
        let last = watched.removeLast()
        if last != fd {
            watched[position] = last
            positions[Int(last)] = Int32(position)
        }
        if fd == highest { highest = watched.max() ?? -1 }
    }

    func wait(timeout: WaitTimeout?, into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno) -> Int
    {
        var readable = readInterest
        var writable = writeInterest
        // select(2) on Linux rewrites the timeval with the time left, so it must be a copy.
        var limit = timeout?.timeval ?? timeval()
        let result = withUnsafeMutablePointer(to: &limit) { limitPointer in
            CSelectors.select(highest + 1, &readable, &writable, nil, timeout == nil ? nil : limitPointer)
        }
        if result < 0 {
            let error = Errno.current
            // One registered fd that the caller closed makes the whole call fail with EBADF.
            // Report the closed fds as ready instead (as poll reports POLLNVAL), so their
            // handlers find out, together with whatever else is ready.
            guard error == .badDescriptor else { throw error }
            return reportClosedDescriptorsAndReadyOthers(into: buffer)
        }
        var written = 0
        for fd in watched where written < buffer.count {
            var events: Events = []
            if cselectors_fd_isset(fd, &readable) != 0 { events.insert(.read) }
            if cselectors_fd_isset(fd, &writable) != 0 { events.insert(.write) }
            if !events.isEmpty {
                buffer[written] = ReadyEvent(token: tokens[Int(fd)], events: events)
                written += 1
            }
        }
        return written
    }

    func close() {
        watched = []
        highest = -1
        cselectors_fd_zero(&readInterest)
        cselectors_fd_zero(&writeInterest)
    }

    /// The closed watched fds as ready for everything, then the open ones that a zero-timeout
    /// `select` over the interest sets minus the closed fds finds ready. Without the second
    /// call one closed fd would hide every ready live fd until it was unregistered.
    private func reportClosedDescriptorsAndReadyOthers(into buffer: UnsafeMutableBufferPointer<ReadyEvent>)
        -> Int
    {
        var readable = readInterest
        var writable = writeInterest
        var written = 0
        for fd in watched where !SystemCall.isOpen(fd) {
            cselectors_fd_clr(fd, &readable)
            cselectors_fd_clr(fd, &writable)
            if written < buffer.count {
                buffer[written] = ReadyEvent(token: tokens[Int(fd)], events: .all)
                written += 1
            }
        }
        var noWait = timeval()
        // If it fails again (another thread closed an fd meanwhile), the next wait sees it.
        // The closed fds are out of both sets, so the scan cannot report them twice.
        guard CSelectors.select(highest + 1, &readable, &writable, nil, &noWait) > 0 else { return written }
        for fd in watched where written < buffer.count {
            var events: Events = []
            if cselectors_fd_isset(fd, &readable) != 0 { events.insert(.read) }
            if cselectors_fd_isset(fd, &writable) != 0 { events.insert(.write) }
            if !events.isEmpty {
                buffer[written] = ReadyEvent(token: tokens[Int(fd)], events: events)
                written += 1
            }
        }
        return written
    }

    private func setInterest(_ fd: Int32, _ events: Events, _ token: UInt64) {
        tokens[Int(fd)] = token
        if events.contains(.read) {
            cselectors_fd_set(fd, &readInterest)
        } else {
            cselectors_fd_clr(fd, &readInterest)
        }
        if events.contains(.write) {
            cselectors_fd_set(fd, &writeInterest)
        } else {
            cselectors_fd_clr(fd, &writeInterest)
        }
    }
}
