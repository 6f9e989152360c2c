/// What a kernel readiness interface must do; the `Selector` does everything else.
///
/// Backends know nothing of keys or handlers. They translate interest changes into system
/// calls and kernel reports into `ReadyEvent`s. The selector validates arguments first, so a
/// backend may assume a non-negative fd, valid non-empty events, and calls that match its
/// current registrations (no duplicate add, no modify or remove of an unknown fd).
///
/// Trigger modes (see `Trigger`): a backend with kernel support passes the mode on; poll and
/// select emulate one-shot by no longer watching an fd once they have reported it (until the
/// next `modify`), and deliver edge as level (see `Trigger` for why that is the edge contract).
protocol PollingBackend: AnyObject {
    /// The first fd number the backend cannot watch (`FD_SETSIZE` for select where the kernel
    /// stops there), or `Int32.max`. A constant: the selector reads it once.
    var descriptorLimit: Int32 { get }

    /// Starts watching `fd` for `events` in `trigger` mode, reporting it with `token`.
    func add(fd: Int32, events: Events, trigger: Trigger, token: UInt64) throws(Errno)

    /// Changes what `fd` is watched for, its mode, and its token. Called whenever the events or
    /// the trigger change, and for every modify of a one-shot registration, which re-arms it.
    func modify(fd: Int32, from old: Interest, to new: Interest, token: UInt64) throws(Errno)

    /// Stops watching `fd`. Must forget the fd even when it throws (the fd may already be closed).
    func remove(fd: Int32, events: Events) throws(Errno)

    /// Waits for readiness and writes up to `buffer.count` events into `buffer`.
    ///
    /// Returns the number written (0 on timeout). Throws `EINTR` unchanged: the selector owns
    /// the retry, because only it knows the remaining time.
    func wait(timeout: WaitTimeout?, into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno) -> Int

    /// Releases kernel resources. Called once.
    func close()

    /// Whether a registration can outlive a `remove` that failed: a *ghost*.
    ///
    /// epoll's interest list holds open files, not numbers. When the caller closes an fd whose
    /// file stays open through a duplicate (`dup`, or a child after `fork`), `EPOLL_CTL_DEL`
    /// fails with `EBADF` and the kernel keeps reporting the file under the dead number.
    /// poll and select keep their lists in user space; kqueue drops a number's filters when
    /// the number is closed. So only epoll says yes.
    var mayKeepGhosts: Bool { get }

    /// Whether closing an fd ends its registration by itself, so the selector may skip
    /// `remove` for an fd closed right after (`Selector.removeBeforeClose`). epoll: yes, once
    /// no descriptor keeps the file open, and a file kept open is a ghost, which the selector
    /// handles. Elsewhere the default, no: poll and select keep their own lists, and io_uring's
    /// poll requests hold a reference to the file. (kqueue drops a number's filters when the
    /// number is closed, but that is unverified here, so it keeps the default.)
    var closeRemovesRegistration: Bool { get }

    /// Replaces the kernel's interest set with an empty one, dropping every ghost; the
    /// selector then adds each live registration again. Only called when `mayKeepGhosts`.
    /// On a throw the old set must still be in place.
    func replaceInterestSet() throws(Errno)

    /// An fd whose kernel wait (`cselectors_direct_wait`: `epoll_wait`) writes `ReadyEvent`s
    /// as `wait` would, for the selector to call without this protocol in between; -1 if
    /// there is none. It may change after `replaceInterestSet`.
    var directWaitFD: Int32 { get }
}

/// A registration's events and trigger, as a backend's `modify` receives them.
struct Interest: Equatable {
    var events: Events
    var trigger: Trigger
}

extension PollingBackend {
    var descriptorLimit: Int32 { Int32.max }
    var mayKeepGhosts: Bool { false }
    var closeRemovesRegistration: Bool { false }
    func replaceInterestSet() throws(Errno) {}
    var directWaitFD: Int32 { -1 }
}
