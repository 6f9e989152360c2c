internal import CSelectors
import Selectors

/// A joinable POSIX thread running a closure (the library avoids Foundation's `Thread`).
struct LoopThread: @unchecked Sendable {
    // @unchecked: `pthread_t` is an opaque handle (a pointer on Apple systems); it is only
    // passed to `pthread_join` and `pthread_equal`, which any thread may call.
    private let handle: pthread_t

    /// Carries the closure through `pthread_create`'s `void *` argument.
    private final class Entry {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread (`pthread_create`).
    /// - Throws: the `pthread_create` error (`EAGAIN` when the system is out of threads).
    init(_ body: @escaping @Sendable () -> Void) throws(Errno) {
        let context = Unmanaged.passRetained(Entry(body)).toOpaque()
        #if os(Linux) && !SELECTORS_BSD_TYPECHECK
            var handle = pthread_t()
            let result = pthread_create(&handle, nil, { LoopThread.start($0) }, context)
        #else
            var started: pthread_t?
            let result = pthread_create(&started, nil, { LoopThread.start($0) }, context)
            let handle = started
        #endif
        guard result == 0 else {
            Unmanaged<Entry>.fromOpaque(context).release()
            throw Errno(rawValue: result)
        }
        #if os(Linux) && !SELECTORS_BSD_TYPECHECK
            self.handle = handle
        #else
            self.handle = handle!
        #endif
    }

    private static func start(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        let entry = Unmanaged<Entry>.fromOpaque(context!).takeRetainedValue()
        entry.body()
        return nil
    }

    /// Waits for the thread to end (`pthread_join`).
    func join() {
        _ = pthread_join(handle, nil)
    }

    /// Whether the calling thread is this one.
    var isCurrent: Bool { pthread_equal(handle, pthread_self()) != 0 }
}
