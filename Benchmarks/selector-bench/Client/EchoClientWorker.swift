#if os(Linux)
    import Selectors

    /// What one client thread is asked to do.
    struct ClientSettings: Sendable {
        var target: SocketAddress
        /// This thread's connections, numbered from `firstConnection` across all threads (the
        /// number picks the connection's bytes, so a crossed stream is caught).
        var connections: Int
        var firstConnection: Int
        /// Message size (conn, rr) or write size (stream).
        var size: Int
        /// An operation with no answer for this long counts as a timeout.
        var operationTimeout: Int64
        var thread: Int
    }

    /// The client side of `conn`, `rr` and `idle`: each connection sends one message of `size`
    /// pattern bytes, reads the echo back, checks every byte, then either closes and opens a
    /// new connection (`connectPerCycle`, the conn scenario) or sends the next message
    /// (`persistent`, the rr and idle scenarios).
    ///
    /// Connections are driven by readiness flags (see `Poller`): a message is written as soon
    /// as the socket may take it, and the echo read as soon as it may be there, so a round trip
    /// costs one `send` and one `read` plus a share of `epoll_wait`.
    final class EchoClientWorker: ClientWorker {
        enum Mode {
            case connectPerCycle
            case persistent
        }

        private struct Slot {
            var fd: Int32 = -1
            var number = 0
            var receiving = false
            var readable = false
            var writable = false
            var sent = 0
            var received = 0
            var offset = 0
            var sequence = 0
            var started: Int64 = 0
            /// Persistent connections once the run is finishing: open, but sending nothing more.
            var resting = false
        }

        private let mode: Mode
        private let settings: ClientSettings
        private let poller: Poller?
        private let pattern: Pattern
        private let slots: UnsafeMutableBufferPointer<Slot>
        private let buffer: UnsafeMutableRawBufferPointer
        private var sources: SourceAddresses
        private var measuring = false
        private var finishing = false
        private var nextScan: Int64 = 0
        private(set) var operations = 0
        private(set) var bytes = 0
        private(set) var errors = ErrorCounts()
        private(set) var histogram = Histogram()

        init(mode: Mode, settings: ClientSettings) {
            self.mode = mode
            self.settings = settings
            do { poller = try Poller() } catch {
                poller = nil
                errors.record(error)
            }
            pattern = Pattern(maximumSlice: settings.size)
            slots = .allocate(capacity: settings.connections)
            slots.initialize(repeating: Slot())
            for index in slots.indices { slots[index].number = settings.firstConnection + index }
            buffer = .allocate(byteCount: max(65_536, min(settings.size + 1, 1 << 20)), alignment: 16)
            sources = SourceAddresses(
                target: settings.target, start: settings.firstConnection * 7 + settings.thread)
        }

        deinit {
            slots.deallocate()
            buffer.deallocate()
        }

        func setUp() {
            guard poller != nil else { return }
            let now = Monotonic.now()
            for index in slots.indices {
                switch mode {
                case .connectPerCycle: open(index, now: now)
                case .persistent: openPersistent(index, now: now)
                }
            }
            nextScan = now + 50_000_000
        }

        func startMeasuring() {
            measuring = true
            histogram.reset()
        }

        func beginFinishing() {
            finishing = true
        }

        /// Connections with a cycle or a round trip under way.
        var outstanding: Int {
            slots.reduce(0) { $0 + ($1.fd >= 0 && !$1.resting ? 1 : 0) }
        }

        func step() {
            guard let poller else { return Monotonic.sleep(seconds: 0.01) }
            let count = poller.wait(milliseconds: 10)
            for event in 0..<count {
                let index = Int(poller.token(at: event))
                let (readable, writable) = poller.readiness(at: event)
                if readable { slots[index].readable = true }
                if writable { slots[index].writable = true }
                drive(index)
            }
            let now = Monotonic.now()
            if now >= nextScan {
                nextScan = now + 50_000_000
                scan(now)
            }
        }

        func tearDown() {
            for index in slots.indices where slots[index].fd >= 0 {
                // Still under way after the grace that followed the window: the server hung.
                if !slots[index].resting { errors.stalled += 1 }
                Socket.close(slots[index].fd)
                slots[index].fd = -1
            }
        }

        /// Makes all the progress the readiness flags allow.
        @inline(__always)
        private func drive(_ index: Int) {
            while slots[index].fd >= 0 && !slots[index].resting {
                // While the message is still going out, the echo of its start is read as soon
                // as it may be there: a message larger than the sockets' buffers can hold
                // otherwise never finishes, the server having stopped reading until its echo is
                // taken. (Usually the whole message goes in one write, so this costs nothing.)
                if !slots[index].receiving && (slots[index].writable || !slots[index].readable) {
                    guard slots[index].writable else { return }
                    let offset = slots[index].offset + slots[index].sent
                    let remaining = settings.size - slots[index].sent
                    let written: Int?
                    do {
                        written = try Socket.write(
                            slots[index].fd,
                            from: UnsafeRawBufferPointer(start: pattern.pointer(at: offset), count: remaining)
                        )
                    } catch {
                        return fail(index, error)
                    }
                    guard let written else {
                        // Not a return: the echo may be waiting, and its readiness was
                        // reported already (no further edge comes while the server waits for
                        // this side to read).
                        slots[index].writable = false
                        continue
                    }
                    slots[index].sent += written
                    if slots[index].sent == settings.size { slots[index].receiving = true }
                } else {
                    guard slots[index].readable else { return }
                    // One byte more than expected, so a server that sends too much is caught.
                    let expected = settings.size - slots[index].received
                    let target = UnsafeMutableRawBufferPointer(rebasing: buffer.prefix(expected + 1))
                    let count: Int?
                    do { count = try Socket.read(slots[index].fd, into: target) } catch {
                        return fail(index, error)
                    }
                    guard let count else {
                        slots[index].readable = false
                        return
                    }
                    if count == 0 {
                        errors.short += 1
                        return fail(index, nil)
                    }
                    if count > expected
                        || !pattern.matches(
                            buffer.baseAddress!, count: count, at: slots[index].offset + slots[index].received
                        )
                    {
                        errors.mismatch += 1
                        return fail(index, nil)
                    }
                    slots[index].received += count
                    bytes &+= count
                    if slots[index].received == settings.size { complete(index) }
                }
            }
        }

        private func complete(_ index: Int) {
            let now = Monotonic.now()
            operations &+= 1
            if measuring { histogram.record(now - slots[index].started) }
            // The whole echo is in: nothing more can arrive before the next message is sent,
            // and whatever arrives then raises a new edge. Forgetting "may read" here saves a
            // read that would only return EAGAIN, once per round trip. (A server that sent too
            // much in the same burst was caught by reading one byte past the message.)
            slots[index].readable = false
            switch mode {
            case .connectPerCycle:
                Socket.close(slots[index].fd)
                slots[index].fd = -1
                if !finishing { open(index, now: now) }
            case .persistent where finishing:
                slots[index].resting = true
            case .persistent:
                slots[index].sequence &+= 1
                slots[index].offset = pattern.messageOffset(
                    connection: slots[index].number, sequence: slots[index].sequence)
                slots[index].sent = 0
                slots[index].received = 0
                slots[index].receiving = false
                slots[index].started = now
            }
        }

        /// Starts a non-blocking connection for `index`; the first message goes out when the
        /// socket turns writable (at once if the connect finished immediately).
        private func open(_ index: Int, now: Int64) {
            slots[index].fd = -1
            let fd: Int32
            let pending: Bool
            do {
                (fd, pending) = try Socket.connect(
                    to: settings.target, nonBlocking: true, sourceAddress: sources.take())
            } catch {
                return errors.record(error)  // retried by the next scan
            }
            begin(index, fd: fd, writable: !pending, now: now)
        }

        /// Opens a long-lived connection, waiting (boundedly) for the handshake, without Nagle.
        private func openPersistent(_ index: Int, now: Int64) {
            slots[index].fd = -1
            let fd: Int32
            do {
                fd = try connectWithin(settings.target, source: sources.take(), timeoutMilliseconds: 2000)
                try Socket.setNoDelay(fd)
            } catch {
                return errors.record(error)
            }
            begin(index, fd: fd, writable: true, now: now)
        }

        private func begin(_ index: Int, fd: Int32, writable: Bool, now: Int64) {
            do { try poller!.add(fd, token: UInt64(index)) } catch {
                Socket.close(fd)
                return errors.record(error)
            }
            slots[index].fd = fd
            slots[index].sequence &+= 1
            slots[index].offset = pattern.messageOffset(
                connection: slots[index].number, sequence: slots[index].sequence)
            slots[index].receiving = false
            slots[index].readable = false
            slots[index].writable = writable
            slots[index].sent = 0
            slots[index].received = 0
            slots[index].started = now
            drive(index)
        }

        /// Counts the failure, closes the connection; the next scan opens a replacement.
        private func fail(_ index: Int, _ error: Errno?) {
            if let error { errors.record(error) }
            Socket.close(slots[index].fd)
            slots[index].fd = -1
        }

        /// Times out stuck operations and reopens failed connections.
        private func scan(_ now: Int64) {
            for index in slots.indices {
                if slots[index].fd < 0 {
                    if finishing { continue }
                    switch mode {
                    case .connectPerCycle: open(index, now: now)
                    case .persistent: openPersistent(index, now: now)
                    }
                } else if !finishing && !slots[index].resting
                    && now - slots[index].started > settings.operationTimeout
                {
                    // (While finishing, the grace bounds the wait; what is left is a stall.)
                    errors.timeout += 1
                    fail(index, nil)
                }
            }
        }
    }
#endif
