internal import CSelectors
import Selectors

/// A TCP echo server on `EventLoop`: every byte a client sends comes back to it.
///
/// ```swift
/// var configuration = EchoServer.Configuration()
/// configuration.port = 0                       // let the kernel pick a free port
/// let server = try EchoServer.start(configuration)
/// print(server.address)                        // 127.0.0.1:40123
/// // ... clients connect ...
/// print(server.statistics.bytesEchoed)
/// server.stop()                                // closes everything, joins the threads
/// ```
///
/// Each of `threads` event loops runs on its own thread; all of them watch one listening
/// socket, and whichever loop is free accepts (see `SharedListener` for why not
/// `SO_REUSEPORT`: a second server on the port must fail, not share it).
/// Per connection the server keeps a few dozen bytes: input is read into the loop's shared
/// read buffer and written straight back; only the part the kernel did not take is copied to
/// a pending buffer, which exists only while it holds data. Reading stops while more than
/// `highWaterMark` bytes are pending and resumes at `lowWaterMark`, and the buffer's capacity
/// never exceeds the high-water mark plus one read, so a client that never reads costs at
/// most that. Every connection stops reading while the buffers of all of them together take
/// more than `totalHighWaterMark`, which caps the whole server's buffer memory.
public enum EchoServer {
    /// Everything that shapes a server; the defaults are the command line's defaults.
    public struct Configuration: Sendable {
        /// The numeric address to listen on: IPv4 (`"127.0.0.1"`), IPv6 (`"::1"`) or
        /// `"localhost"` (127.0.0.1). No name lookup is done.
        public var host = "127.0.0.1"
        /// The port; 0 lets the kernel pick a free one (read it from `RunningEchoServer.address`).
        public var port: UInt16 = 7000
        /// The selector backend of every loop.
        public var backend: Backend = .default
        /// How the listener and connections are registered: `.level` (the default) or `.edge`
        /// (each readiness consumed until `EAGAIN`; see `Trigger`). `.oneShot` is refused.
        public var trigger: Trigger = .level
        /// How many event loops (threads), all watching the one listening socket.
        public var threads = 1
        /// How connections are served: `.callbacks` (the default: `Connections` handlers) or
        /// `.async` (a task per connection on the loop's executor, `AsyncConnection`).
        public var api: API = .callbacks
        /// The most connections open at once over all loops; connections beyond it are
        /// accepted and closed at once (counted as `rejected`). `nil`: no limit but the
        /// descriptor limit.
        public var maxConnections: Int? = nil
        /// Connections with no read or write progress for this long are closed. `nil`: never.
        public var idleTimeout: Duration? = nil
        /// Stop reading from a connection once more than this many bytes wait to be sent to it.
        public var highWaterMark = 256 * 1024
        /// Resume reading once the pending bytes have drained to this many or fewer.
        public var lowWaterMark = 64 * 1024
        /// Stop reading from every connection while the output buffers of all connections
        /// together take more than this many bytes, so a crowd of clients that never read
        /// cannot exhaust memory (each one alone is held to `highWaterMark`). While stopped,
        /// clients that do read are not served either; `idleTimeout` closes the ones that
        /// never read.
        public var totalHighWaterMark = 64 << 20
        /// Resume reading everywhere once buffers freed as clients read have brought the total
        /// to this many bytes or fewer.
        public var totalLowWaterMark = 48 << 20
        /// Give freed output buffers back to the system (`malloc_trim(0)` with glibc) once a
        /// loop has had nothing pending for a moment after a burst; otherwise the allocator
        /// keeps them and the resident size stays near its peak.
        public var releasesMemoryWhenIdle = true
        /// The most connections accepted per wake-up of a listener, so a flood of connections
        /// cannot starve the connections already open.
        public var acceptBatch = 64
        /// How long accepting pauses after `accept` fails with `EMFILE`/`ENFILE` (out of
        /// descriptors) or another error, instead of retrying in a busy loop.
        public var acceptRetryDelay: Duration = .milliseconds(100)
        /// The listen backlog (the kernel caps it at `net.core.somaxconn`).
        public var backlog: Int32 = 1024
        /// How long a graceful shutdown waits for pending output to be flushed and clients
        /// to close before closing what is left.
        public var drainTimeout: Duration = .seconds(2)
        /// Signals that start a graceful shutdown (a second one stops at once), for example
        /// `[SIGINT, SIGTERM]` in a command-line server. Empty by default, since signal
        /// dispositions belong to the whole process.
        public var shutdownSignals: [Int32] = []
        /// Other signals the first loop watches, each with what to do, run on that loop's
        /// thread: the command line logs statistics on `SIGUSR1`, for example. A signal may
        /// not be both here and in `shutdownSignals`.
        public var signalHandlers: [Int32: @Sendable (_ signal: Int32, _ server: RunningEchoServer) -> Void] =
            [:]
        /// TCP keepalive on accepted connections (`SO_KEEPALIVE`): the system starts probing
        /// a connection after this much silence, and again as often, and resets it after
        /// several unanswered probes. Whole seconds, 1 to 32,767. `nil`: off.
        public var keepAlive: Duration? = nil
        /// How often the live statistics are reported (to `statisticsReport`); `nil`: never.
        public var statisticsInterval: Duration? = nil
        /// Receives the statistics every `statisticsInterval`, on the first loop's thread;
        /// `nil` sends them to `log` as one line, `statistics: ...`.
        public var statisticsReport: (@Sendable (EchoStatistics) -> Void)? = nil
        /// Receives one-line notices (accepting paused, connections rejected, shutdown
        /// started, ...) on a loop thread, or on the starting thread for start-up warnings;
        /// `nil` discards them. Notices that can repeat quickly (rejections, pauses, idle
        /// closes) come at most once a second per loop and kind, with a count of the rest.
        public var log: (@Sendable (String) -> Void)? = nil

        /// The defaults: 127.0.0.1 port 7000, the platform's best backend, one thread.
        public init() {}

        /// Checks the values that do not depend on the system.
        /// - Throws: `EchoServerError.invalidConfiguration` naming the first bad value.
        public func validate() throws(EchoServerError) {
            func fail(_ message: String) -> EchoServerError { .invalidConfiguration(message) }
            guard backend.isAvailable else {
                throw fail("backend \(backend) is not available on this system")
            }
            guard trigger != .oneShot else {
                throw fail("trigger must be level or edge (one-shot would need a re-arm per event)")
            }
            guard (1...1024).contains(threads) else {
                throw fail("threads must be 1 to 1024, not \(threads)")
            }
            if let maxConnections, maxConnections < 1 {
                throw fail("maxConnections must be at least 1, not \(maxConnections)")
            }
            if let idleTimeout, idleTimeout <= .zero {
                throw fail("idleTimeout must be positive (nil means never)")
            }
            // Pending offsets are 32-bit; one read (64 KiB) may land on top of the high mark.
            guard highWaterMark >= 1, highWaterMark <= 1 << 30 else {
                throw fail("highWaterMark must be 1 byte to 1 GiB, not \(highWaterMark)")
            }
            guard lowWaterMark >= 0, lowWaterMark < highWaterMark else {
                throw fail("lowWaterMark must be at least 0 and below highWaterMark")
            }
            guard totalHighWaterMark >= 1 else {
                throw fail("totalHighWaterMark must be at least 1 byte, not \(totalHighWaterMark)")
            }
            guard totalLowWaterMark >= 0, totalLowWaterMark < totalHighWaterMark else {
                throw fail("totalLowWaterMark must be at least 0 and below totalHighWaterMark")
            }
            guard acceptBatch >= 1 else { throw fail("acceptBatch must be at least 1") }
            guard acceptRetryDelay > .zero else { throw fail("acceptRetryDelay must be positive") }
            guard drainTimeout >= .zero else { throw fail("drainTimeout must not be negative") }
            guard backlog >= 1 else { throw fail("backlog must be at least 1") }
            if let keepAlive, keepAlive < .seconds(1) || keepAlive > .seconds(32767) {
                throw fail("keepAlive must be 1 to 32767 seconds (nil means off)")
            }
            if let statisticsInterval, statisticsInterval <= .zero {
                throw fail("statisticsInterval must be positive (nil means never)")
            }
            if let signal = shutdownSignals.first(where: { signalHandlers[$0] != nil }) {
                throw fail("signal \(signal) is both a shutdown signal and in signalHandlers")
            }
            // Each entry is a handler: a signal listed twice would count one delivery as two,
            // and close at once instead of draining.
            if Set(shutdownSignals).count < shutdownSignals.count {
                throw fail("shutdownSignals lists a signal more than once")
            }
            do {
                _ = try SocketAddress(host: host, port: port)
            } catch {
                throw fail("host must be a numeric IPv4 or IPv6 address or localhost, not '\(host)'")
            }
        }
    }

    /// Opens the listeners and starts the loops, each on a new thread; returns once the
    /// server accepts connections.
    ///
    /// The caller's thread is not used afterwards: call `wait()` on the result to block until
    /// the server ends (after `shutdown()`, `stop()` or one of `shutdownSignals`).
    /// - Throws: `invalidConfiguration`, `cannotListen` (for example `EADDRINUSE`),
    ///   `eventLoop` or `thread`. Nothing is left open after a throw.
    public static func start(_ configuration: Configuration) throws(EchoServerError) -> RunningEchoServer {
        try RunningEchoServer(configuration)
    }

    /// Serves on the calling thread (and `threads - 1` more) until a shutdown signal,
    /// `shutdown()` or `stop()` ends every loop; `onStart` runs once the listeners are bound.
    ///
    /// The command-line server's way: with one loop the process needs no other thread, which
    /// also spares every system call glibc's bookkeeping for thread cancellation.
    public static func run(
        _ configuration: Configuration, onStart: (RunningEchoServer) -> Void
    ) throws(EchoServerError) -> RunningEchoServer {
        let server = try RunningEchoServer(configuration, firstLoopOnCallingThread: true)
        onStart(server)
        server.runFirstLoop()
        return server
    }
}

extension EchoServer {
    /// How an echo server serves its connections.
    public enum API: String, Sendable, CaseIterable {
        /// One `Connections` handler per loop; the fastest.
        case callbacks
        /// A task per connection on its loop's executor, reading and writing with
        /// `AsyncConnection`; accepted by `Listener.connections(on:)`.
        case async
    }
}

/// Why an echo server could not start.
public enum EchoServerError: Error, Sendable, CustomStringConvertible {
    /// A configuration value is out of range; the text says which.
    case invalidConfiguration(String)
    /// Creating, binding or listening on the socket failed, for example with `EADDRINUSE`.
    case cannotListen(address: SocketAddress, Errno)
    /// An event loop could not be created or set up.
    case eventLoop(SelectorError)
    /// A loop thread could not be started (`pthread_create`).
    case thread(Errno)

    /// A one-line explanation, for example
    /// `cannot listen on 127.0.0.1:7000: address already in use (EADDRINUSE)`.
    public var description: String {
        switch self {
        case .invalidConfiguration(let message):
            return message
        case .cannotListen(let address, let error) where error == .addressInUse:
            return "cannot listen on \(address): address already in use (EADDRINUSE); "
                + "another server holds the port, pick another with --port"
        case .cannotListen(let address, let error):
            return "cannot listen on \(address): \(error)"
        case .eventLoop(let error):
            return "event loop: \(error)"
        case .thread(let error):
            return "cannot start a thread: \(error)"
        }
    }
}
