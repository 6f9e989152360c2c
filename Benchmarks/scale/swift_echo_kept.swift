// c_echo_kept.c written again in plain Swift, as an instruction-count reference: what the
// language costs before any library does. Same guarantees, same shape, same system calls:
//   - a short write's remainder is queued per connection and sent when the socket is
//     writable again (EPOLLOUT watched only while something is queued; reading paused then);
//   - each registration carries a generation in the event's data, checked against the
//     fd-indexed table, so an event for a connection closed earlier in the same batch is
//     dropped;
//   - bytes in, bytes out, connections accepted and closed are counted;
//   - TCP_NODELAY is set on the listening socket, which accepted connections inherit.
// No library: Glibc, plus the project's C header for epoll (Swift's Glibc module does not
// export it). No timers, idle timeout, budget, drain or handler indirection.
//
// Built with -D CLOSURE_SHAPE (`count.sh swift-closure`), it takes the shape of a library API
// and nothing else: the echo is a handler closure, chosen at run time so the compiler cannot
// inline it, called per read with a connection handle (fd, generation, owner), and it writes
// through a method of the owner that is not inlined, which looks the connection up again and
// checks its generation, as `Connection.write` does: what such an API costs before any
// feature.
// Build: Benchmarks/callgrind/count.sh swift-kept|swift-closure ... does it (swiftc -O).
import CSelectors
import Glibc

struct ConnectionState {
    var generation: UInt32 = 0
    var isOpen = false
    var pending: UnsafeMutableRawPointer? = nil
    var pendingStart = 0
    var pendingEnd = 0
}

struct Counts {
    var accepted: UInt64 = 0
    var closed: UInt64 = 0
    var bytesIn: UInt64 = 0
    var bytesOut: UInt64 = 0
}

let tableSize = 65536
let listenerToken = UInt64.max

#if CLOSURE_SHAPE
    /// The handle a handler gets: which connection, and whose.
    struct Connection {
        let fd: Int32
        let generation: UInt32
        unowned(unsafe) let owner: Server

        /// Sends `bytes`, keeping what the kernel does not take (the library's `write`).
        func write(_ bytes: UnsafeRawBufferPointer) { owner.write(self, bytes) }
    }
    typealias Handler = (Connection, UnsafeRawBufferPointer) -> Void
#else
    typealias Handler = () -> Void  // unused: the echo is inline
#endif

final class Server {
    let handler: Handler
    let poller: Int32
    let listener: Int32
    let table = UnsafeMutablePointer<ConnectionState>.allocate(capacity: tableSize)
    let ready = UnsafeMutablePointer<cselectors_ready_event>.allocate(capacity: 256)
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
    // Unchecked as in the library (see its `Unretained` and the classes' state): a checked class
    // property costs two runtime calls per access, 76 instructions per round trip here.
    @exclusivity(unchecked) var counts = Counts()

    init(poller: Int32, listener: Int32, handler: @escaping Handler) {
        self.handler = handler
        self.poller = poller
        self.listener = listener
        table.initialize(repeating: ConnectionState(), count: tableSize)
    }

    func token(_ fd: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: fd)) | UInt64(table[Int(fd)].generation) << 32
    }

    /// Events: 1 read, 2 write (the header's mapping to EPOLLIN / EPOLLOUT).
    func watch(_ fd: Int32, _ events: UInt32, modify: Bool) {
        _ = cselectors_direct_control(poller, modify ? 1 : 0, fd, events, 0, token(fd))
    }

    func end(_ fd: Int32) {
        let connection = table + Int(fd)
        free(connection.pointee.pending)
        connection.pointee.pending = nil
        connection.pointee.isOpen = false
        counts.closed &+= 1
        close(fd)  // also leaves the epoll set: the fd is not shared
    }

    /// Queues what send did not take; watches for room instead of input meanwhile.
    func keep(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
        let connection = table + Int(fd)
        guard let grown = realloc(connection.pointee.pending, connection.pointee.pendingEnd + count) else {
            return false
        }
        memcpy(grown + connection.pointee.pendingEnd, bytes, count)
        connection.pointee.pending = grown
        connection.pointee.pendingEnd += count
        watch(fd, 2, modify: true)
        return true
    }

    func flush(_ fd: Int32) {
        let connection = table + Int(fd)
        let start = connection.pointee.pendingStart
        let sent = send(
            fd, connection.pointee.pending! + start, connection.pointee.pendingEnd - start,
            Int32(MSG_NOSIGNAL))
        if sent < 0 {
            end(fd)
            return
        }
        counts.bytesOut &+= UInt64(sent)
        connection.pointee.pendingStart += sent
        if connection.pointee.pendingStart < connection.pointee.pendingEnd { return }
        free(connection.pointee.pending)
        connection.pointee.pending = nil
        connection.pointee.pendingStart = 0
        connection.pointee.pendingEnd = 0
        watch(fd, 1, modify: true)
    }

    func acceptAll() {
        for _ in 0..<64 {
            let client = accept4(listener, nil, nil, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
            if client < 0 { return }
            if Int(client) >= tableSize {
                close(client)
                continue
            }
            table[Int(client)].generation &+= 1
            table[Int(client)].isOpen = true
            counts.accepted &+= 1
            watch(client, 1, modify: false)
        }
    }

    #if CLOSURE_SHAPE
        /// The owner's write: looks the connection up, checks it is the same one, sends.
        @inline(never)
        func write(_ handle: Connection, _ bytes: UnsafeRawBufferPointer) {
            let connection = table + Int(handle.fd)
            guard connection.pointee.isOpen, connection.pointee.generation == handle.generation else {
                return
            }
            guard connection.pointee.pending == nil else {
                if !keep(handle.fd, bytes.baseAddress!, bytes.count) { end(handle.fd) }
                return
            }
            sendKeepingRest(handle.fd, bytes.baseAddress!, bytes.count)
        }
    #endif

    /// Sends what was read, counts it, keeps what the kernel did not take.
    @inline(__always)
    func sendKeepingRest(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) {
        var sent = send(fd, bytes, count, Int32(MSG_NOSIGNAL))
        if sent < 0 { sent = 0 }
        counts.bytesOut &+= UInt64(sent)
        if sent < count && !keep(fd, bytes + sent, count - sent) { end(fd) }
    }

    func run() -> Never {
        while true {
            let count = cselectors_direct_wait(poller, ready, 256, -1)
            var index = 0
            while index < Int(count) {
                let event = ready[index]
                index += 1
                let data = event.data.u64
                if data == listenerToken {
                    acceptAll()
                    continue
                }
                let fd = Int32(truncatingIfNeeded: data)
                let connection = table + Int(fd)
                // An event for a connection closed (and perhaps replaced) earlier in this batch.
                guard connection.pointee.isOpen,
                    connection.pointee.generation == UInt32(truncatingIfNeeded: data >> 32)
                else { continue }
                if connection.pointee.pending != nil {
                    if event.events & (EPOLLOUT.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
                        flush(fd)
                    }
                    continue
                }
                let got = read(fd, buffer, 65536)
                if got <= 0 {
                    end(fd)
                    continue
                }
                counts.bytesIn &+= UInt64(got)
                #if CLOSURE_SHAPE
                    handler(
                        Connection(fd: fd, generation: connection.pointee.generation, owner: self),
                        UnsafeRawBufferPointer(start: buffer, count: got))
                #else
                    sendKeepingRest(fd, buffer, got)
                #endif
            }
        }
    }
}

let port = CommandLine.arguments.count > 1 ? UInt16(CommandLine.arguments[1]) ?? 7401 : 7401
signal(SIGPIPE, SIG_IGN)
let listener = socket(
    AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
var on: Int32 = 1
setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
setsockopt(listener, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
var address = sockaddr_in()
address.sin_family = sa_family_t(AF_INET)
address.sin_port = port.bigEndian
address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
let bound = withUnsafePointer(to: &address) { pointer in
    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
}
if bound != 0 || listen(listener, 1024) != 0 {
    perror("listen")
    exit(1)
}
let poller = epoll_create1(Int32(EPOLL_CLOEXEC))
_ = cselectors_direct_control(poller, 0, listener, 1, 0, listenerToken)
print("swift_echo_kept listening on 127.0.0.1:\(port)")
#if CLOSURE_SHAPE
    // Chosen at run time, so the compiler cannot inline the echo into the loop.
    let echo: Handler =
        CommandLine.arguments.count > 2
        ? { _, _ in }
        : { connection, bytes in connection.write(bytes) }
#else
    let echo: Handler = {}
#endif
Server(poller: poller, listener: listener, handler: echo).run()
