/// Readiness decided by a test instead of the kernel: what a scripted selector reports.
///
/// Give one to `Selector(script:)`, or use the one a `VirtualEventLoop` owns. The fds are only
/// numbers: nothing is opened, and a handler under test reaches its "file" through whatever
/// stand-in the test gives it. The script is the world those numbers live in, so it outlives
/// registrations: an fd can be made ready before it is registered, and stays ready after it is
/// unregistered.
///
/// ```swift
/// let script = ReadinessScript()
/// let selector = Selector(script: script)
/// try selector.register(5, events: .read) { fd, events in print("\(fd) is \(events)") }
/// try script.deliver(5, .read)                      // ready once
/// for (key, events) in try selector.select(timeout: .zero) { key.handler(key.fd, events) }
/// ```
///
/// Two kinds of readiness, because tests want both:
/// - **Standing** (`makeReady`): stays until `clearReady` or `reset`, and every wait reports
///   it, as a level-triggered kernel reports a socket that still holds unread data.
/// - **Once** (`deliver`): reported by the first wait that watches the fd for those events,
///   then gone, as if the handler had consumed what arrived. Gone even if the selector then
///   drops the event as stale (a handler earlier in the batch replaced the registration).
///
/// Hang-ups and errors (`hangUp`, `fail`) follow the selector's contract for them: they have
/// no events of their own and make the fd ready for both `.read` and `.write` (masked by what
/// its key asks for), until `reset`, just as a hung-up socket stays readable. The handler
/// tells them apart from data by asking `isHungUp(_:)` or `error(of:)`, as a real one learns
/// it from `read` returning 0 or failing.
///
/// Ready fds are reported in ascending fd order, so a test can rely on which handler of a
/// batch runs first. Use a script from one thread, the one that runs its selectors.
public final class ReadinessScript {
    /// What one number stands for.
    struct File {
        var standing: Events = []
        var once: Events = []
        var isHungUp = false
        var error: Errno?
        /// What `add` and `modify` of this fd throw, if the script says the kernel refuses it.
        var rejection: Errno?
        /// The script's change counter when this file last changed, so a registration can tell
        /// readiness it has already been told about from a new scripted change.
        var stamp: UInt64 = 0

        /// What a wait would report to a key that asks for everything.
        var readiness: Events { standing.union(once).union(isHungUp || error != nil ? .all : []) }
    }

    /// The largest fd number plus one that a script and its selectors accept. The selector's
    /// key table is an array indexed by fd, so "any number" must stop somewhere; this is the
    /// default hard limit of open files on Linux (`fs.nr_open`).
    public static let descriptorLimit: Int32 = 1 << 20

    /// Every number the script has been told about. A dictionary: unlike kernel fds, scripted
    /// numbers need not be small or dense, and a test script is short.
    private var files: [Int32: File] = [:]
    /// Bumped by every scripted change.
    private var changes: UInt64 = 0

    /// Creates an empty script: no fd is ready.
    public init() {}

    // MARK: Scripting readiness

    /// Makes `fd` ready for `events` until `clearReady` or `reset` says otherwise; every wait
    /// reports it (level-triggered). Making it ready again counts as new readiness, like more
    /// data arriving on a readable socket.
    /// - Throws: `negativeDescriptor`, `descriptorTooLarge`, or `invalidEvents` for empty or
    ///   unknown events.
    public func makeReady(_ fd: Int32, for events: Events) throws(SelectorError) {
        try validate(.makeReady, fd, events)
        change(fd) { $0.standing.formUnion(events) }
    }

    /// Makes `fd` no longer ready for `events`: standing readiness and deliveries not yet
    /// reported are dropped. A hang-up or error stays (only `reset` ends those).
    /// - Throws: `negativeDescriptor`, `descriptorTooLarge`, or `invalidEvents`.
    public func clearReady(_ fd: Int32, for events: Events = .all) throws(SelectorError) {
        try validate(.clearReady, fd, events)
        change(fd) {
            $0.standing.subtract(events)
            $0.once.subtract(events)
        }
    }

    /// Makes `fd` ready for `events` once: the first wait that watches `fd` for any of them
    /// reports those and forgets them (events it does not watch stay for a later wait).
    /// - Throws: `negativeDescriptor`, `descriptorTooLarge`, or `invalidEvents`.
    public func deliver(_ fd: Int32, _ events: Events) throws(SelectorError) {
        try validate(.deliver, fd, events)
        change(fd) { $0.once.formUnion(events) }
    }

    /// The peer hung up: `fd` is ready for `.read` and `.write` (as its key asks) until `reset`.
    /// - Throws: `negativeDescriptor` or `descriptorTooLarge`.
    public func hangUp(_ fd: Int32) throws(SelectorError) {
        try validate(.hangUp, fd, nil)
        change(fd) { $0.isHungUp = true }
    }

    /// An error is pending on `fd` (what `SO_ERROR` would return): it is ready for `.read` and
    /// `.write` (as its key asks) until `reset`, and `error(of:)` returns `error`.
    /// - Throws: `negativeDescriptor` or `descriptorTooLarge`.
    public func fail(_ fd: Int32, with error: Errno) throws(SelectorError) {
        try validate(.fail, fd, nil)
        change(fd) { $0.error = error }
    }

    /// Makes registering or modifying `fd` fail with `error`, as the kernel refuses a closed
    /// fd (`EBADF`) or, on epoll, a regular file (`EPERM`); until `reset`. Lets a test reach
    /// the selector's rollback paths without a kernel.
    /// - Throws: `negativeDescriptor` or `descriptorTooLarge`.
    public func rejectRegistrations(of fd: Int32, with error: Errno) throws(SelectorError) {
        try validate(.rejectRegistrations, fd, nil)
        change(fd) { $0.rejection = error }
    }

    /// Forgets everything about `fd`, as if it were closed and its number handed to a new
    /// file: no readiness, no hang-up, no error, no rejection.
    /// - Throws: `negativeDescriptor` or `descriptorTooLarge`.
    public func reset(_ fd: Int32) throws(SelectorError) {
        try validate(.reset, fd, nil)
        change(fd) { $0 = File() }
    }

    // MARK: Asking

    /// What a wait would report for `fd` if its key asked for `.all`. Empty for any number
    /// the script knows nothing about.
    public func readiness(of fd: Int32) -> Events { files[fd]?.readiness ?? [] }

    /// Whether `hangUp(_:)` was scripted for `fd` (and not `reset` since).
    public func isHungUp(_ fd: Int32) -> Bool { files[fd]?.isHungUp ?? false }

    /// The error `fail(_:with:)` scripted for `fd`, if any (and not `reset` since).
    public func error(of fd: Int32) -> Errno? { files[fd]?.error }

    // MARK: For the scripted backend

    /// The state of `fd`; a number never scripted is a file that is not ready.
    func file(_ fd: Int32) -> File { files[fd] ?? File() }

    /// Removes the one-time readiness a wait has just reported. Not a scripted change: it
    /// is the report itself, so the stamp stays.
    func consumeOnce(_ fd: Int32, _ events: Events) {
        guard files[fd]?.once.isDisjoint(with: events) == false else { return }
        files[fd]?.once.subtract(events)
    }

    private func change(_ fd: Int32, _ body: (inout File) -> Void) {
        changes &+= 1
        var file = files[fd] ?? File()
        body(&file)
        file.stamp = changes
        files[fd] = file
    }

    private func validate(_ operation: SelectorError.Operation, _ fd: Int32, _ events: Events?)
        throws(SelectorError)
    {
        guard fd >= 0 else { throw SelectorError(operation, fd: fd, .negativeDescriptor) }
        guard fd < ReadinessScript.descriptorLimit else {
            throw SelectorError(
                operation, fd: fd, .descriptorTooLarge(limit: ReadinessScript.descriptorLimit))
        }
        if let events, !events.isValidInterest {
            throw SelectorError(operation, fd: fd, .invalidEvents(events))
        }
    }
}
