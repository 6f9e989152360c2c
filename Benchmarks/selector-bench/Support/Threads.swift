#if os(Linux)
    import CSelectors
    import Selectors

    /// A joinable POSIX thread running a closure: client workers and the raw server each get
    /// one. (No Foundation `Thread`, so the target builds without Foundation.)
    struct PosixThread: Sendable {
        private let handle: pthread_t

        /// Boxes the closure so its address can travel through `pthread_create`'s `void *`.
        private final class Entry {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }

        /// Starts `body` on a new thread; stops the process if the system refuses (there is no
        /// useful recovery for a benchmark that cannot start its threads).
        init(_ body: @escaping @Sendable () -> Void) {
            let context = Unmanaged.passRetained(Entry(body)).toOpaque()
            var handle = pthread_t()
            let result = pthread_create(
                &handle, nil,
                { context in
                    let entry = Unmanaged<Entry>.fromOpaque(context!).takeRetainedValue()
                    entry.body()
                    return nil
                }, context)
            guard result == 0 else { fatalError("pthread_create failed: \(Errno(rawValue: result))") }
            self.handle = handle
        }

        /// Waits for the thread to finish (`pthread_join`).
        func join() {
            pthread_join(handle, nil)
        }
    }
#endif
