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
    /// Per fd: its position in `watched` (or -1), its token, and whether it is one-shot (the
    /// wait then clears its bits when reporting it, until `modify` sets them again).
    private var positions: [Int32]
    private var tokens: [UInt64]
    private var oneShot: [Bool]

    init() {
        positions = Array(repeating: -1, count: Int(descriptorLimit))
        tokens = Array(repeating: 0, count: Int(descriptorLimit))
        oneShot = Array(repeating: false, count: Int(descriptorLimit))
        cselectors_fd_zero(&readInterest)
        cselectors_fd_zero(&writeInterest)
    }

    func add(fd: Int32, events: Events, trigger: Trigger, token: UInt64) throws(Errno) {
        positions[Int(fd)] = Int32(watched.count)
        watched.append(fd)
        highest = max(highest, fd)
        oneShot[Int(fd)] = trigger == .oneShot
        setInterest(fd, events, token)
    }

    func modify(fd: Int32, from old: Interest, to new: Interest, token: UInt64) throws(Errno) {
        oneShot[Int(fd)] = new.trigger == .oneShot
        setInterest(fd, new.events, token)
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
            // handlers find out and everyone else keeps working.
            guard error == .badDescriptor else { throw error }
            return reportClosedDescriptors(into: buffer)
        }
        var written = 0
        for fd in watched where written < buffer.count {
            var events: Events = []
            if cselectors_fd_isset(fd, &readable) != 0 { events.insert(.read) }
            if cselectors_fd_isset(fd, &writable) != 0 { events.insert(.write) }
            if !events.isEmpty {
                buffer[written] = ReadyEvent(token: tokens[Int(fd)], events: events)
                written += 1
                if oneShot[Int(fd)] { setInterest(fd, [], tokens[Int(fd)]) }
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

    private func reportClosedDescriptors(into buffer: UnsafeMutableBufferPointer<ReadyEvent>) -> Int {
        var written = 0
        for fd in watched where written < buffer.count && isArmed(fd) && !SystemCall.isOpen(fd) {
            buffer[written] = ReadyEvent(token: tokens[Int(fd)], events: .all)
            written += 1
            if oneShot[Int(fd)] { setInterest(fd, [], tokens[Int(fd)]) }
        }
        return written
    }

    /// Whether `fd` has any interest bit set (a disarmed one-shot fd has none).
    private func isArmed(_ fd: Int32) -> Bool {
        cselectors_fd_isset(fd, &readInterest) != 0 || cselectors_fd_isset(fd, &writeInterest) != 0
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
