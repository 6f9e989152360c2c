#if os(Linux)
    import CSelectors
    import Selectors

    /// The baseline: an echo server written straight on epoll system calls, on its own thread,
    /// with none of the framework. What a careful C programmer would write, so the gap between
    /// it and the framework's server is the framework's cost.
    ///
    /// Level-triggered. Per readable connection: one `read`, one `send` of what was read; only
    /// an unsent remainder is buffered, and while it is pending the connection waits for
    /// `EPOLLOUT` instead of `EPOLLIN` (so a client that does not read cannot grow the buffer).
    /// The listener accepts until `EAGAIN`. On `EMFILE`/`ENFILE` it stops watching the listener
    /// until a connection closes, instead of spinning on a listener that stays readable.
    ///
    /// Accepted sockets keep Nagle's algorithm (no `TCP_NODELAY`), like the minimal C server
    /// behind the reference figures, so a conn cycle costs no extra `setsockopt`. With the
    /// default small messages this changes nothing; with messages larger than one read, a
    /// short tail can wait for the client's delayed ACK (~40 ms at p99). A framework target
    /// should make the same choice, or the comparison measures the option, not the loop.
    final class RawEpollEchoServer: EchoTarget {
        let name = "raw-epoll"
        private var thread: PosixThread?
        private var stopFD: Int32 = -1
        private var listenFD: Int32 = -1
        private var epollFD: Int32 = -1

        init() {}

        func start() throws -> SocketAddress {
            let (listener, address) = try Socket.makeListener(address: .ipv4Loopback(port: 0), backlog: 4096)
            let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
            let stop = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
            guard epoll >= 0, stop >= 0 else {
                let error = Errno(rawValue: cselectors_errno())
                for fd in [listener, epoll, stop] where fd >= 0 { Socket.close(fd) }
                throw error
            }
            RawEchoLoop.watch(epoll, EPOLL_CTL_ADD, listener, EPOLLIN.rawValue)
            RawEchoLoop.watch(epoll, EPOLL_CTL_ADD, stop, EPOLLIN.rawValue)
            (listenFD, epollFD, stopFD) = (listener, epoll, stop)
            thread = PosixThread {
                let loop = RawEchoLoop(epoll: epoll, listener: listener, stop: stop)
                loop.run()
            }
            return address
        }

        func stop() {
            guard let thread else { return }
            var one: UInt64 = 1
            _ = write(stopFD, &one, 8)
            thread.join()
            self.thread = nil
            for fd in [listenFD, epollFD, stopFD] { Socket.close(fd) }
        }
    }

    /// The server's loop and per-connection state; lives entirely on the server thread.
    ///
    /// Connection state is a flat table indexed by fd and sized to the descriptor limit, so it
    /// never grows and is reached through `let` pointers (no array uniqueness or exclusivity
    /// checks on the hot path).
    private final class RawEchoLoop {
        /// One connection: open or not, and its unsent remainder `bytes[start..<end]`.
        struct Connection {
            var isOpen = false
            var bytes: UnsafeMutableRawPointer?
            var start = 0
            var end = 0
            var capacity = 0
        }

        private let epoll: Int32
        private let listener: Int32
        private let stop: Int32
        private let eventCapacity: Int32 = 1024
        private let events: UnsafeMutablePointer<epoll_event>
        private let bufferSize = 65_536
        private let buffer: UnsafeMutableRawPointer
        private let tableSize: Int
        private let table: UnsafeMutablePointer<Connection>
        private var acceptPaused = false

        init(epoll: Int32, listener: Int32, stop: Int32) {
            self.epoll = epoll
            self.listener = listener
            self.stop = stop
            events = .allocate(capacity: Int(eventCapacity))
            buffer = .allocate(byteCount: bufferSize, alignment: 16)
            tableSize = FileLimit.current()
            table = .allocate(capacity: tableSize)
            table.initialize(repeating: Connection(), count: tableSize)
        }

        deinit {
            events.deallocate()
            buffer.deallocate()
            table.deallocate()
        }

        static func watch(_ epoll: Int32, _ operation: Int32, _ fd: Int32, _ flags: UInt32) {
            var event = epoll_event()
            event.events = flags
            event.data.fd = fd
            _ = epoll_ctl(epoll, operation, fd, &event)
        }

        func run() {
            while true {
                let count = epoll_wait(epoll, events, eventCapacity, -1)
                if count < 0 { continue }  // EINTR
                for index in 0..<Int(count) {
                    let fd = events[index].data.fd
                    let flags = events[index].events
                    if fd == listener {
                        acceptAll()
                    } else if fd == stop {
                        closeEverything()
                        return
                    } else if flags & EPOLLOUT.rawValue != 0 && table[Int(fd)].end > 0 {
                        flush(fd)
                    } else {
                        echo(fd)
                    }
                }
            }
        }

        private func acceptAll() {
            while true {
                let fd = cselectors_accept4(
                    listener, nil, nil, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
                if fd < 0 {
                    let error = cselectors_errno()
                    if error == EINTR || error == ECONNABORTED { continue }
                    if error == EMFILE || error == ENFILE {
                        RawEchoLoop.watch(epoll, EPOLL_CTL_MOD, listener, 0)
                        acceptPaused = true
                    }
                    return  // EAGAIN: queue drained
                }
                guard Int(fd) < tableSize else {  // cannot happen below the fd limit; be safe anyway
                    Socket.close(fd)
                    continue
                }
                table[Int(fd)].isOpen = true
                RawEchoLoop.watch(epoll, EPOLL_CTL_ADD, fd, EPOLLIN.rawValue)
            }
        }

        /// One read, one send; a short send parks the rest and switches to `EPOLLOUT`.
        private func echo(_ fd: Int32) {
            let count = read(fd, buffer, bufferSize)
            if count == 0 { return close(fd) }
            if count < 0 {
                let error = cselectors_errno()
                if error != EAGAIN && error != EINTR { close(fd) }
                return
            }
            var sent = send(fd, buffer, count, Int32(MSG_NOSIGNAL))
            if sent == count { return }
            if sent < 0 {
                let error = cselectors_errno()
                guard error == EAGAIN || error == EINTR else { return close(fd) }
                sent = 0
            }
            park(fd, buffer + sent, count - sent)
            RawEchoLoop.watch(epoll, EPOLL_CTL_MOD, fd, EPOLLOUT.rawValue)
        }

        private func flush(_ fd: Int32) {
            let connection = table + Int(fd)
            let remaining = connection.pointee.end - connection.pointee.start
            let sent = send(
                fd, connection.pointee.bytes! + connection.pointee.start, remaining, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                let error = cselectors_errno()
                if error != EAGAIN && error != EINTR { close(fd) }
                return
            }
            if sent < remaining {
                connection.pointee.start += sent
                return
            }
            connection.pointee.start = 0
            connection.pointee.end = 0
            RawEchoLoop.watch(epoll, EPOLL_CTL_MOD, fd, EPOLLIN.rawValue)
        }

        /// Copies the unsent bytes aside; the buffer is kept for the connection's next stall.
        private func park(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) {
            let connection = table + Int(fd)
            if connection.pointee.capacity < count {
                connection.pointee.bytes?.deallocate()
                connection.pointee.capacity = max(count, 4096)
                connection.pointee.bytes = .allocate(byteCount: connection.pointee.capacity, alignment: 16)
            }
            connection.pointee.bytes!.copyMemory(from: bytes, byteCount: count)
            connection.pointee.start = 0
            connection.pointee.end = count
        }

        /// Closing the only descriptor for the socket also removes it from the epoll set.
        private func close(_ fd: Int32) {
            Socket.close(fd)
            table[Int(fd)].bytes?.deallocate()
            table[Int(fd)] = Connection()
            if acceptPaused {
                acceptPaused = false
                RawEchoLoop.watch(epoll, EPOLL_CTL_MOD, listener, EPOLLIN.rawValue)
            }
        }

        private func closeEverything() {
            for slot in 0..<tableSize where table[slot].isOpen { close(Int32(slot)) }
        }
    }
#endif
