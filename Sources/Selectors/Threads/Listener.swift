/// One listening socket that any number of loops accept from: the way to spread a server's
/// connections over an `EventLoopGroup`.
///
/// ```swift
/// let listener = try Listener(address: .ipv4Loopback(port: 8080))
/// let group = try EventLoopGroup(threads: 4) { _, io in
///     try listener.accept(on: io) { event in
///         if case .accepted(let fd) = event { /* serve fd on this loop */ }
///     }
/// }
/// // ...
/// listener.close()
/// group.shutdown()
/// ```
///
/// Every loop registers the same socket (level-triggered unless `Options.trigger` says edge).
/// A new connection makes it readable in all of them, so each loop waiting at that moment
/// wakes and the first to `accept` takes it (and up to `acceptBatch` more); the others find
/// nothing and wait again. Connections go to whichever loops are free: spread by load, not by
/// hash. Why not one socket per loop with `SO_REUSEPORT`: a port shared that way can be joined
/// by any other process of the same user, so a second server started by mistake would
/// silently take a share of the connections instead of failing with `EADDRINUSE`.
///
/// When `accept` runs out of descriptors (`EMFILE`, `ENFILE`) or fails otherwise, the loop
/// stops watching the socket for `retryDelay` instead of spinning on the connection that
/// stays queued, and reports `.paused`; `.resumed` follows the next successful accept.
public final class Listener: Sendable {
    /// What a loop's accept handler is told.
    public enum Event: Sendable {
        /// A new connection, non-blocking and close-on-exec; the handler owns (and closes) it.
        case accepted(Int32)
        /// `accept` failed with this error (out of descriptors, say); accepting on this loop
        /// pauses for `retryDelay`, then resumes. Reported on every failed attempt.
        case paused(Errno)
        /// An accept worked again after `pauses` failed attempts.
        case resumed(pauses: Int)
    }

    /// How the socket is made and watched.
    public struct Options: Sendable {
        /// The accept queue length (the kernel caps it at `somaxconn`).
        public var backlog: Int32 = 1024
        /// The most connections one loop accepts per wake-up, so a flood of them cannot starve
        /// the connections it already serves. At least 1.
        public var acceptBatch = 64
        /// How long a loop stops accepting after `accept` fails.
        public var retryDelay: Duration = .milliseconds(100)
        /// How each loop registers the socket: `.level` (the default) or `.edge` (each loop then
        /// accepts until `EAGAIN`, going on from a zero-delay timer after a full batch).
        public var trigger: Trigger = .level
        /// For a Unix path: remove a stale socket file first (see `Socket.makeListener`).
        public var removingStaleSocketFile = false
        /// TCP: turn Nagle's algorithm off (`TCP_NODELAY`) for every accepted connection, set
        /// once on the listening socket, whose accepted sockets inherit it (Linux and the BSDs):
        /// no system call per connection. For request/response traffic, where Nagle holds each
        /// small write back until the previous one is acknowledged.
        public var noDelay = false

        /// The defaults.
        public init() {}
    }

    /// The listening socket.
    public let fd: Int32
    /// The address it is bound to, with the real port when port 0 was asked for.
    public let address: SocketAddress
    /// The options it was made with.
    public let options: Options

    private let watchers = Locked(Watchers())

    private struct Watchers {
        var loops: [(EventLoop, any ListenerWatch)] = []
        var isClosed = false
        var socketClosed = false
    }

    /// Creates, binds and listens on a non-blocking socket (`Socket.makeListener`).
    /// - Throws: `EINVAL` (`Errno.invalidArgument`) for an `acceptBatch` below 1 or a
    ///   `.oneShot` trigger, before any socket is made; `EADDRINUSE`, `EACCES`, `EMFILE`, ...
    public init(address requested: SocketAddress, options: Options = Options()) throws(Errno) {
        // A one-shot registration would need re-arming after every accept, which no loop does.
        guard options.acceptBatch >= 1, options.trigger != .oneShot else { throw .invalidArgument }
        (fd, address) = try Socket.makeListener(
            address: requested, backlog: options.backlog, nonBlocking: true,
            removingStaleSocketFile: options.removingStaleSocketFile)
        if options.noDelay && address.family != .unix {
            do {
                try Socket.setNoDelay(fd)
            } catch {
                Socket.close(fd)
                throw error
            }
        }
        self.options = options
    }

    /// Closes the socket unless `close()` did: every watcher holds the listener, so none is
    /// left, and no loop watches the socket any more.
    deinit {
        let open = watchers.withLock { watchers in
            defer { watchers.socketClosed = true }
            return !watchers.socketClosed
        }
        if open { Socket.close(fd) }
    }

    /// Starts accepting on `loop` (its thread calls this): each event goes to `handler` there.
    /// - Throws: `EBADF` (operation `register`) once `close()` was called, as registering its
    ///   closed socket would (it said `loopClosed`, which named the wrong object); what
    ///   registering the socket threw otherwise.
    public func accept(on loop: IsolatedEventLoop, _ handler: @escaping (Event) -> Void) throws(SelectorError)
    {
        let watcher = AcceptWatcher(listener: self, loop: loop, handler: handler)
        guard add(watcher, on: loop.eventLoop) else {
            throw SelectorError(.register, fd: fd, .system(.badFileDescriptor))
        }
        do {
            try watcher.start()
        } catch {
            watcherStopped(watcher)
            throw error
        }
    }

    /// Stops accepting on `loop` only (its thread calls this), for example when that loop
    /// begins to shut down. The socket stays open for the other loops.
    public func stopAccepting(on loop: IsolatedEventLoop) {
        let mine = watchers.withLock { watchers in watchers.loops.filter { $0.0 === loop.eventLoop } }
        for (_, watcher) in mine { watcher.stop() }
    }

    /// Stops accepting on every loop and closes the socket once no loop watches it any more
    /// (so no selector ever holds the closed number, or a number reused by then). Any
    /// thread; idempotent. The loops stop at their next iteration; a loop that is closed
    /// already watches nothing.
    public func close() {
        let loops = watchers.withLock { watchers in
            watchers.isClosed = true
            return watchers.loops
        }
        for (loop, watcher) in loops {
            if loop.isOnLoopThread {
                watcher.stop()
            } else {
                // Refused: the loop is closing (or closed), and its close observer stops the
                // watcher (or did), once the loop no longer holds the socket.
                try? loop.execute { watcher.stop() }
            }
        }
        watcherStopped(nil)
    }

    /// Adds a loop's watcher, unless the listener is closed.
    func add(_ watcher: any ListenerWatch, on loop: EventLoop) -> Bool {
        watchers.withLock { watchers in
            guard !watchers.isClosed else { return false }
            watchers.loops.append((loop, watcher))
            return true
        }
    }

    /// Whether a watcher other than `watcher` watches on `loop`: they share the loop's
    /// registration of the socket, which the last one to stop removes.
    func hasOtherWatcher(on loop: EventLoop, than watcher: any ListenerWatch) -> Bool {
        watchers.withLock { $0.loops.contains { $0.0 === loop && $0.1 !== watcher } }
    }

    /// Forgets a watcher that stopped; closes the socket when the listener is closed and no
    /// watcher is left.
    func watcherStopped(_ watcher: (any ListenerWatch)?) {
        let closeNow = watchers.withLock { watchers in
            if let watcher { watchers.loops.removeAll { $0.1 === watcher } }
            guard watchers.isClosed, watchers.loops.isEmpty, !watchers.socketClosed else { return false }
            watchers.socketClosed = true
            return true
        }
        if closeNow { Socket.close(fd) }
    }
}

/// One loop's way of watching a `Listener` (callbacks or an async sequence).
protocol ListenerWatch: AnyObject, Sendable {
    /// Stops watching, on the watcher's loop thread, and tells the listener.
    func stop()
}
