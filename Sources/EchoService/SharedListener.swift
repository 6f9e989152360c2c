import Selectors
import Synchronization

/// The one listening socket every loop of a server watches, closed when the last one lets go.
///
/// One socket rather than one per loop with `SO_REUSEPORT`: a port shared that way can be
/// joined by any other process of the same user, so a second server started on the port
/// would silently take half the connections instead of failing with `EADDRINUSE`.
///
/// Each loop registers the socket in its own selector (level-triggered). A new connection
/// makes it readable in all of them, so every loop waiting at that moment wakes; the first
/// to `accept` takes the connection (and any others queued, up to `acceptBatch`), the rest
/// get `EAGAIN` and wait again. The cost is one wasted wake-up per idle loop per burst of
/// connections, bounded by the thread count; the gain is that connections go to whichever
/// loops are free, which spreads them by load rather than by hash.
///
/// A loop stops watching before it lets go, and the socket is closed only after every loop
/// has, so no selector ever holds a closed (or reused) descriptor number for it.
final class SharedListener: Sendable {
    let fd: Int32
    private let holders = Atomic<Int>(1)

    /// Takes ownership of `fd`; the creator holds it once.
    init(fd: Int32) { self.fd = fd }

    /// One more holder (a loop).
    func hold() {
        holders.wrappingAdd(1, ordering: .relaxed)
    }

    /// Lets go; the last holder closes the socket.
    func release() {
        if holders.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
            Socket.close(fd)
        }
    }
}
