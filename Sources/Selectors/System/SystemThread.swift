internal import CSelectors
import Synchronization

/// A joinable POSIX thread running a closure, with a name (the library avoids Foundation's
/// `Thread`).
struct SystemThread: @unchecked Sendable {
    // @unchecked: the handle is only passed to pthread_join and pthread_detach, which any
    // thread may call; the identity is atomic.
    private let handle: cselectors_thread
    /// The thread's `ThreadIdentity`, written by the thread as it starts (0 until then).
    private let identity: Identity

    private final class Identity: Sendable {
        let value = Atomic<UInt64>(0)
    }

    /// Carries the closure through `pthread_create`'s `void *` argument.
    private final class Entry {
        let name: String
        let body: () -> Void
        let identity: Identity
        init(_ name: String, _ body: @escaping () -> Void, _ identity: Identity) {
            self.name = name
            self.body = body
            self.identity = identity
        }
    }

    /// Starts `body` on a new thread named `name` (`pthread_create`, `pthread_setname_np`;
    /// Linux keeps the first 15 bytes of the name).
    /// - Throws: the `pthread_create` error (`EAGAIN` when the system is out of threads).
    init(name: String, _ body: sending @escaping () -> Void) throws(Errno) {
        let identity = Identity()
        let context = Unmanaged.passRetained(Entry(name, body, identity)).toOpaque()
        var handle = cselectors_thread()
        let result = cselectors_thread_create(&handle, { SystemThread.start($0) }, context)
        guard result == 0 else {
            Unmanaged<Entry>.fromOpaque(context).release()
            throw Errno(rawValue: result)
        }
        self.handle = handle
        self.identity = identity
    }

    private static func start(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        let entry = Unmanaged<Entry>.fromOpaque(context!).takeRetainedValue()
        entry.identity.value.store(ThreadIdentity.current, ordering: .releasing)
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

    /// Whether the calling thread is this one (by `ThreadIdentity`, which no later thread
    /// can share, as it can a joined thread's `pthread_t`).
    var isCurrent: Bool { identity.value.load(ordering: .acquiring) == ThreadIdentity.current }
}
