internal import CSelectors

/// A joinable POSIX thread running a closure, with a name (the library avoids Foundation's
/// `Thread`).
struct SystemThread: @unchecked Sendable {
    // @unchecked: the handle is only passed to pthread_join, pthread_detach and pthread_equal,
    // which any thread may call.
    private let handle: cselectors_thread

    /// Carries the closure through `pthread_create`'s `void *` argument.
    private final class Entry {
        let name: String
        let body: () -> Void
        init(_ name: String, _ body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new thread named `name` (`pthread_create`, `pthread_setname_np`;
    /// Linux keeps the first 15 bytes of the name).
    /// - Throws: the `pthread_create` error (`EAGAIN` when the system is out of threads).
    init(name: String, _ body: sending @escaping () -> Void) throws(Errno) {
        let context = Unmanaged.passRetained(Entry(name, body)).toOpaque()
        var handle = cselectors_thread()
        let result = cselectors_thread_create(&handle, { SystemThread.start($0) }, context)
        guard result == 0 else {
            Unmanaged<Entry>.fromOpaque(context).release()
            throw Errno(rawValue: result)
        }
        self.handle = handle
    }

    private static func start(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        let entry = Unmanaged<Entry>.fromOpaque(context!).takeRetainedValue()
        cselectors_thread_set_name(entry.name)
        entry.body()
        return nil
    }

    /// Waits for the thread to end (`pthread_join`). Once per thread, never from itself.
    func join() {
        _ = cselectors_thread_join(handle)
    }

    /// Lets the thread's resources go when it ends, without a join (`pthread_detach`).
    func detach() {
        _ = cselectors_thread_detach(handle)
    }

    /// Whether the calling thread is this one.
    var isCurrent: Bool { cselectors_thread_is_current(handle) != 0 }
}
