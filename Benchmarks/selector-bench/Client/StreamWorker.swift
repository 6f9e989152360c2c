#if os(Linux)
    import Selectors

    /// The client side of `stream`: each connection writes an endless deterministic byte stream
    /// in `size`-byte writes and reads the echo back at the same time, checking every byte
    /// against the position it must come from.
    ///
    /// At most `window` bytes per connection are unanswered at once, so the server's buffers,
    /// not memory, absorb the difference between writing and reading.
    final class StreamWorker: ClientWorker {
        private struct Slot {
            var fd: Int32 = -1
            var number = 0
            var readable = false
            var writable = false
            var sent = 0
            var received = 0
            var lastProgress: Int64 = 0
        }

        private static let window = 4 << 20
        private static let readSize = 256 << 10

        private let settings: ClientSettings
        private let poller: Poller?
        private let pattern: Pattern
        private let slots: UnsafeMutableBufferPointer<Slot>
        private let buffer: UnsafeMutableRawPointer
        private var sources: SourceAddresses
        private var nextScan: Int64 = 0
        private var finishing = false
        private(set) var operations = 0
        private(set) var bytes = 0
        private(set) var errors = ErrorCounts()
        private(set) var histogram = Histogram()

        init(settings: ClientSettings) {
            self.settings = settings
            do { poller = try Poller() } catch {
                poller = nil
                errors.record(error)
            }
            pattern = Pattern(maximumSlice: max(settings.size, StreamWorker.readSize))
            slots = .allocate(capacity: settings.connections)
            slots.initialize(repeating: Slot())
            for index in slots.indices { slots[index].number = settings.firstConnection + index }
            buffer = .allocate(byteCount: StreamWorker.readSize, alignment: 16)
            sources = SourceAddresses(
                target: settings.target, start: settings.firstConnection * 7 + settings.thread)
        }

        deinit {
            slots.deallocate()
            buffer.deallocate()
        }

        func setUp() {
            guard let poller else { return }
            let now = Monotonic.now()
            for index in slots.indices {
                do throws(Errno) {
                    let fd = try connectWithin(
                        settings.target, source: sources.take(), timeoutMilliseconds: 2000)
                    do { try poller.add(fd, token: UInt64(index)) } catch {
                        Socket.close(fd)
                        throw error
                    }
                    slots[index].fd = fd
                    slots[index].writable = true
                    slots[index].lastProgress = now
                } catch {
                    errors.record(error)
                }
            }
            for index in slots.indices { drive(index, now: now) }
            nextScan = now + 50_000_000
        }

        func startMeasuring() {}

        func beginFinishing() {
            finishing = true
        }

        /// Connections with bytes sent and not yet echoed back.
        var outstanding: Int {
            slots.reduce(0) { $0 + ($1.fd >= 0 && $1.sent > $1.received ? 1 : 0) }
        }

        func step() {
            guard let poller else { return Monotonic.sleep(seconds: 0.01) }
            let count = poller.wait(milliseconds: 10)
            let now = Monotonic.now()
            for event in 0..<count {
                let index = Int(poller.token(at: event))
                let (readable, writable) = poller.readiness(at: event)
                if readable { slots[index].readable = true }
                if writable { slots[index].writable = true }
                drive(index, now: now)
            }
            // While finishing, the grace bounds the wait; what is left then is a stall.
            if now >= nextScan && !finishing {
                nextScan = now + 50_000_000
                for index in slots.indices where slots[index].fd >= 0 {
                    if now - slots[index].lastProgress > settings.operationTimeout {
                        errors.timeout += 1
                        fail(index)
                    }
                }
            }
        }

        func tearDown() {
            for index in slots.indices where slots[index].fd >= 0 {
                // Echo still missing after the grace that followed the window: the server hung.
                if slots[index].sent > slots[index].received { errors.stalled += 1 }
                fail(index)
            }
        }

        /// Writes while the window allows and reads while data is there, until neither can move.
        private func drive(_ index: Int, now: Int64) {
            while slots[index].fd >= 0 {
                var moved = false
                let unanswered = slots[index].sent - slots[index].received
                if !finishing && slots[index].writable && unanswered < StreamWorker.window {
                    let count = min(settings.size, StreamWorker.window - unanswered)
                    let offset = pattern.streamOffset(
                        connection: slots[index].number, position: slots[index].sent)
                    do {
                        if let written = try Socket.write(
                            slots[index].fd,
                            from: UnsafeRawBufferPointer(start: pattern.pointer(at: offset), count: count))
                        {
                            slots[index].sent += written
                            moved = true
                        } else {
                            slots[index].writable = false
                        }
                    } catch {
                        errors.record(error)
                        return fail(index)
                    }
                }
                if slots[index].readable {
                    let count: Int?
                    do {
                        count = try Socket.read(
                            slots[index].fd,
                            into: UnsafeMutableRawBufferPointer(start: buffer, count: StreamWorker.readSize))
                    } catch {
                        errors.record(error)
                        return fail(index)
                    }
                    if let count {
                        let offset = pattern.streamOffset(
                            connection: slots[index].number, position: slots[index].received)
                        if count == 0 {
                            errors.short += 1
                            return fail(index)
                        }
                        if slots[index].received + count > slots[index].sent
                            || !pattern.matches(buffer, count: count, at: offset)
                        {
                            errors.mismatch += 1
                            return fail(index)
                        }
                        slots[index].received += count
                        bytes &+= count
                        operations &+= 1
                        moved = true
                    } else {
                        slots[index].readable = false
                    }
                }
                if !moved { return }
                slots[index].lastProgress = now
            }
        }

        /// Streams are not reopened: a failed one is reported and the others carry on.
        private func fail(_ index: Int) {
            Socket.close(slots[index].fd)
            slots[index].fd = -1
        }
    }
#endif
