internal import CSelectors

/// POSIX `select(2)`: two interest bitmaps copied into every wait.
///
/// The bitmaps are `DescriptorBitmap`s sized to the largest registered fd rather than fixed
/// `fd_set`s, so where the kernel reads as many bits as it is told (Linux) any fd below the
/// process's limit can be watched; where it stops at `FD_SETSIZE` (`Platform`), the selector
/// refuses larger fds at registration. A wait copies the words up to the highest watched fd,
/// and the scan after it skips empty words, so both cost O(highest fd / 64), plus one step
/// per ready fd.
///
/// One-shot is emulated exactly: a reported one-shot fd's bits are cleared until `modify` sets
/// them again. Edge is delivered as level (see `Trigger`).
final class SelectBackend: PollingBackend {
    let descriptorLimit = Platform.selectDescriptorLimit ?? Int32.max
    // Confined to the selector's thread; see Selector for why exclusivity is unchecked.
    @exclusivity(unchecked) private var readInterest = DescriptorBitmap()
    @exclusivity(unchecked) private var writeInterest = DescriptorBitmap()
    /// What the kernel is given and fills in, reused by every wait.
    @exclusivity(unchecked) private var readable = DescriptorBitmap()
    @exclusivity(unchecked) private var writable = DescriptorBitmap()
    /// The highest fd with an interest bit set (select's first argument is one more), or -1.
    /// Kept up to date so a wait need not search for it; only clearing its bits rescans.
    @exclusivity(unchecked) private var highest: Int32 = -1
    /// Per fd: its token, and whether it is one-shot.
    @exclusivity(unchecked) private var tokens: [UInt64] = []
    @exclusivity(unchecked) private var oneShot: [Bool] = []

    func add(fd: Int32, events: Events, trigger: Trigger, token: UInt64) throws(Errno) {
        let index = Int(fd)
        if index >= tokens.count {
            let grown = max(index + 1, tokens.count * 2)
            tokens.append(contentsOf: repeatElement(0, count: grown - tokens.count))
            oneShot.append(contentsOf: repeatElement(false, count: grown - oneShot.count))
        }
        // Four plain calls: a loop over key paths to the four made each `add` build an array
        // and project each path at run time (callgrind, a connection cycle: 8,619 -> 2,524
        // instructions).
        readInterest.reserve(through: fd)
        writeInterest.reserve(through: fd)
        readable.reserve(through: fd)
        writable.reserve(through: fd)
        tokens[index] = token
        oneShot[index] = trigger == .oneShot
        setInterest(fd, events)
    }

    func modify(fd: Int32, from old: Interest, to new: Interest, token: UInt64) throws(Errno) {
        tokens[Int(fd)] = token
        oneShot[Int(fd)] = new.trigger == .oneShot
        setInterest(fd, new.events)  // re-arms a disarmed one-shot fd too
    }

    func remove(fd: Int32, events: Events) throws(Errno) {
        setInterest(fd, [])
        oneShot[Int(fd)] = false
    }

    func wait(timeout: WaitTimeout?, into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno) -> Int
    {
        let words = DescriptorBitmap.wordCount(through: highest)
        readable.copyWords(words, from: readInterest)
        writable.copyWords(words, from: writeInterest)
        // select(2) on Linux rewrites the timeval with the time left, so it must be a copy.
        var limit = timeout?.timeval ?? timeval()
        let result = withUnsafeMutablePointer(to: &limit) { limitPointer in
            select(into: &readable, &writable, timeout == nil ? nil : limitPointer)
        }
        if result < 0 {
            let error = Errno.current
            // One registered fd that the caller closed makes the whole call fail with EBADF.
            // Report the closed fds as ready instead (as poll reports POLLNVAL), so their
            // handlers find out, together with whatever else is ready.
            guard error == .badFileDescriptor else { throw error }
            return reportClosedDescriptorsAndReadyOthers(into: buffer)
        }
        return collect(Int(result), words: words, into: buffer, startingAt: 0)
    }

    func close() {
        readInterest = DescriptorBitmap()
        writeInterest = DescriptorBitmap()
        highest = -1
        tokens = []
        oneShot = []
    }

    /// `select(highest + 1, readable, writable, NULL, timeout)`.
    private func select(
        into readable: inout DescriptorBitmap, _ writable: inout DescriptorBitmap,
        _ timeout: UnsafeMutablePointer<timeval>?
    ) -> Int32 {
        readable.withFDSet { readSet in
            writable.withFDSet { writeSet in CSelectors.select(highest + 1, readSet, writeSet, nil, timeout) }
        }
    }

    /// Turns the bits a successful select left in `readable` and `writable` (`count` of them)
    /// into ready events after the first `start` entries of `buffer`; returns the total.
    private func collect(
        _ count: Int, words: Int, into buffer: UnsafeMutableBufferPointer<ReadyEvent>, startingAt start: Int
    ) -> Int {
        var remaining = count
        var written = start
        var index = 0
        while remaining > 0, index < words, written < buffer.count {
            let read = readable.word(index)
            let write = writable.word(index)
            var ready = read | write
            remaining -= read.nonzeroBitCount + write.nonzeroBitCount
            while ready != 0, written < buffer.count {
                let bit = UInt(ready.trailingZeroBitCount)
                let fd = Int32(index * DescriptorBitmap.bitsPerWord) + Int32(bit)
                var events: Events = []
                if read & (1 << bit) != 0 { events.insert(.read) }
                if write & (1 << bit) != 0 { events.insert(.write) }
                buffer[written] = ReadyEvent(token: tokens[Int(fd)], events: events)
                written += 1
                if oneShot[Int(fd)] { setInterest(fd, []) }
                ready &= ready &- 1
            }
            index += 1
        }
        return written
    }

    /// The closed watched fds as ready for everything, then the open ones that a zero-timeout
    /// `select` over the interest sets without the closed fds finds ready. Without the second
    /// call one closed fd would hide every ready live fd until it was unregistered.
    private func reportClosedDescriptorsAndReadyOthers(into buffer: UnsafeMutableBufferPointer<ReadyEvent>)
        -> Int
    {
        let words = DescriptorBitmap.wordCount(through: highest)
        readable.copyWords(words, from: readInterest)
        writable.copyWords(words, from: writeInterest)
        var written = 0
        var fd: Int32 = 0
        while fd <= highest {
            if (readable.contains(fd) || writable.contains(fd)) && !SystemCall.isOpen(fd) {
                readable.set(fd, false)
                writable.set(fd, false)
                if written < buffer.count {
                    buffer[written] = ReadyEvent(token: tokens[Int(fd)], events: .all)
                    written += 1
                    if oneShot[Int(fd)] { setInterest(fd, []) }
                }
            }
            fd += 1
        }
        var noWait = timeval()
        // If it fails again (another thread closed an fd meanwhile), the next wait sees it.
        // The closed fds are out of both sets, so they cannot be reported twice.
        let result = select(into: &readable, &writable, &noWait)
        guard result > 0 else { return written }
        return collect(Int(result), words: words, into: buffer, startingAt: written)
    }

    private func setInterest(_ fd: Int32, _ events: Events) {
        readInterest.set(fd, events.contains(.read))
        writeInterest.set(fd, events.contains(.write))
        if !events.isEmpty {
            highest = max(highest, fd)
        } else if fd == highest {
            highest = highestWatched(atOrBelow: fd)
        }
    }

    /// The highest fd at or below `start` with an interest bit, or -1: a scan down the words,
    /// needed only when the highest fd's bits are cleared.
    private func highestWatched(atOrBelow start: Int32) -> Int32 {
        var index = DescriptorBitmap.wordCount(through: start) - 1
        while index >= 0 {
            let word = readInterest.word(index) | writeInterest.word(index)
            if word != 0 {
                return Int32(
                    index * DescriptorBitmap.bitsPerWord + (UInt.bitWidth - 1 - word.leadingZeroBitCount))
            }
            index -= 1
        }
        return -1
    }
}
