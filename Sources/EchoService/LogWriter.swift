internal import CSelectors
import Selectors
import Synchronization

/// Writes lines to a file descriptor without ever blocking the caller: what the descriptor
/// does not take at once waits in a bounded queue; lines that do not fit are dropped and
/// counted, and a notice of how many is written once the queue has drained.
///
/// Made for a server's standard error and output, which may be a pipe nobody reads: a
/// blocking `write` there would stop the event loop that logged. Any thread may use it.
///
/// How each kind of descriptor is kept from blocking:
/// - pipe, FIFO or terminal: a private non-blocking description of the same file, where the
///   system has one (`/proc/self/fd/N` on Linux), so `O_NONBLOCK` is never set on a
///   description the process shares with others (a shell's terminal, say); elsewhere a
///   `poll(POLLOUT)` with no wait before each write of at most `PIPE_BUF` bytes;
/// - socket: `send(MSG_DONTWAIT)`;
/// - regular file: a plain `write`, which does not wait for a reader.
///
/// Pending bytes go out in writes of whole lines, each at most `PIPE_BUF` bytes, so the
/// system writes each one whole and a line never interleaves with another process's output.
/// Nothing retries on its own: call `flush()` when the descriptor may be writable again,
/// or install `setRetry(_:)` to be told when a later flush is needed. A pipe whose reader is
/// gone raises `SIGPIPE` like any write does; ignore it (the echo server does) to have the
/// writer discard its output quietly instead.
public final class LogWriter: Sendable {
    /// How writes to the descriptor are kept from blocking.
    enum Channel {
        /// A private non-blocking description, owned (closed on deinit).
        case nonBlocking(Int32)
        /// A socket: `send(MSG_DONTWAIT)`.
        case socket(Int32)
        /// A pipe or terminal without a private description: poll before each write.
        case polled(Int32)
        /// A regular file: `write`.
        case file(Int32)
        /// The descriptor is not open: everything is discarded.
        case closed
    }

    private struct State {
        var queue: [UInt8] = []
        /// Index of the first unwritten byte of `queue`.
        var head = 0
        /// Lines dropped since the last drop notice.
        var dropped = 0
        var totalDropped = 0
        var retryPending = false
        var retry: (@Sendable () -> Void)?
        var failed = false
        var pendingCount: Int { queue.count - head }
    }

    private let channel: Channel
    private let capacity: Int
    private let dropNotice: @Sendable (Int) -> String
    // Locked (a pthread mutex), not Synchronization.Mutex, so ThreadSanitizer sees the lock.
    private let state = Locked(State())
    // The largest write a pipe keeps whole (4096 on Linux, 512 on the BSDs).
    private let atomicWrite = Int(cselectors_pipe_buf())

    /// Wraps `fd`, which stays open and owned by the caller.
    /// - Parameters:
    ///   - capacity: the most bytes that may wait; lines beyond it are dropped.
    ///   - dropNotice: the line written (with its newline) once the queue drains after
    ///     `count` lines were dropped.
    public init(
        fd: Int32, capacity: Int = 64 * 1024,
        dropNotice: @escaping @Sendable (_ count: Int) -> String = {
            "\($0) line\($0 == 1 ? "" : "s") dropped: output was not writable\n"
        }
    ) {
        self.capacity = max(capacity, 1)
        self.dropNotice = dropNotice
        switch cselectors_fd_kind(fd) {
        case -1: channel = .closed
        case 0: channel = .file(fd)
        case 3: channel = .socket(fd)
        default:
            let reopened = cselectors_reopen_nonblocking(fd)
            channel = reopened >= 0 ? .nonBlocking(reopened) : .polled(fd)
        }
    }

    deinit {
        if case .nonBlocking(let fd) = channel { _ = CSelectors.close(fd) }
    }

    /// Queues `text` (one or more whole lines, each ending in a newline) and writes as much
    /// of the queue as the descriptor takes now. Drops `text` if the queue cannot hold it.
    public func write(_ text: String) {
        var text = text
        let retry = state.withLock { state -> (@Sendable () -> Void)? in
            let fits = text.withUTF8 { bytes in
                guard state.pendingCount + bytes.count <= capacity else { return false }
                state.queue.append(contentsOf: bytes)
                return true
            }
            if !fits {
                state.dropped += 1
                state.totalDropped += 1
            }
            drain(&state)
            return takeRetryRequest(&state)
        }
        retry?()
    }

    /// Writes as much of the queue as the descriptor takes now.
    /// - Returns: whether nothing is left waiting.
    @discardableResult
    public func flush() -> Bool {
        let (done, retry) = state.withLock { state in
            state.retryPending = false
            drain(&state)
            return (state.pendingCount == 0, takeRetryRequest(&state))
        }
        retry?()
        return done
    }

    /// Flushes, waiting up to `timeout` for the descriptor to take everything (`poll`), as a
    /// program does before it exits. Returns whether nothing is left waiting.
    @discardableResult
    public func flush(waitingAtMost timeout: Duration) -> Bool {
        let deadline = LoopInstant.now.advanced(by: timeout)
        while !flush() {
            let remaining = LoopInstant.now.duration(to: deadline)
            guard remaining > .zero, let fd = pollableDescriptor else { return false }
            let milliseconds = Int32(clamping: (remaining.saturatedMilliseconds + 1))
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&entry, 1, min(milliseconds, 100))
        }
        return true
    }

    /// Installs `retry`, called once (outside any lock, on the thread that queued) each
    /// time output is left waiting and no retry is outstanding; it should arrange a later
    /// `flush()`, for example on a timer. `flush()` ends the outstanding retry. `nil`
    /// removes it (and any reference cycle through it).
    public func setRetry(_ retry: (@Sendable () -> Void)?) {
        let request = state.withLock { state in
            state.retry = retry
            return takeRetryRequest(&state)
        }
        request?()
    }

    /// Bytes waiting to be written.
    public var pendingBytes: Int { state.withLock { $0.pendingCount } }

    /// Lines dropped so far because the queue was full.
    public var droppedLines: Int { state.withLock { $0.totalDropped } }

    // MARK: Writing

    private var pollableDescriptor: Int32? {
        switch channel {
        case .nonBlocking(let fd), .socket(let fd), .polled(let fd): fd
        case .file, .closed: nil
        }
    }

    /// Writes whole lines until the queue is empty or the descriptor refuses; then adds the
    /// drop notice if lines were dropped and the queue has room again.
    private func drain(_ state: inout State) {
        while !state.failed {
            if state.pendingCount == 0 {
                guard state.dropped > 0 else { break }
                let notice = dropNotice(state.dropped)
                state.dropped = 0
                state.queue.removeAll(keepingCapacity: true)
                state.head = 0
                state.queue.append(contentsOf: notice.utf8)
            }
            let written = state.queue.withUnsafeBytes { bytes in
                let pending = UnsafeRawBufferPointer(rebasing: bytes[state.head...])
                return writeSome(UnsafeRawBufferPointer(rebasing: pending[..<chunkLength(pending)]))
            }
            guard let written else { break }
            if written < 0 {
                // The descriptor is gone (EPIPE, EBADF, ...): nothing will ever be written.
                state.failed = true
                break
            }
            state.head += written
        }
        if state.failed || state.pendingCount == 0 {
            state.queue.removeAll(keepingCapacity: state.queue.capacity <= 4096)
            state.head = 0
        } else if state.head >= 4096 && state.head * 2 >= state.queue.count {
            state.queue.removeFirst(state.head)
            state.head = 0
        }
    }

    /// The next write: whole lines up to `PIPE_BUF` bytes, or one longer line alone.
    private func chunkLength(_ pending: UnsafeRawBufferPointer) -> Int {
        guard pending.count > atomicWrite else { return pending.count }
        var end = atomicWrite
        while end > 0 && pending[end - 1] != UInt8(ascii: "\n") { end -= 1 }
        if end > 0 { return end }
        // The first line alone is longer than PIPE_BUF: write it up to its end.
        var lineEnd = atomicWrite
        while lineEnd < pending.count && pending[lineEnd - 1] != UInt8(ascii: "\n") { lineEnd += 1 }
        return lineEnd
    }

    /// One write: the bytes taken, nil if the descriptor would block, -1 if it failed for good.
    private func writeSome(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count > 0 else { return 0 }
        while true {
            let result: Int
            switch channel {
            case .closed:
                return -1
            case .nonBlocking(let fd), .file(let fd):
                result = CSelectors.write(fd, bytes.baseAddress, bytes.count)
            case .socket(let fd):
                result = cselectors_send_nowait(fd, bytes.baseAddress, bytes.count)
            case .polled(let fd):
                var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&entry, 1, 0)
                if ready == 0 { return nil }
                if ready < 0 {
                    if cselectors_errno() == EINTR { continue }
                    return -1
                }
                if entry.revents & Int16(POLLOUT) == 0 { return -1 }
                result = CSelectors.write(fd, bytes.baseAddress, min(bytes.count, atomicWrite))
            }
            if result >= 0 { return result }
            switch cselectors_errno() {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: return -1
            }
        }
    }

    private func takeRetryRequest(_ state: inout State) -> (@Sendable () -> Void)? {
        guard state.pendingCount > 0 || state.dropped > 0, !state.failed, !state.retryPending,
            let retry = state.retry
        else { return nil }
        state.retryPending = true
        return retry
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, saturating at `Int64.max`.
    var saturatedMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        return product.addingReportingOverflow((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
            .partialValue
    }
}
