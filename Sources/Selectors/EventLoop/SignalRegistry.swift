internal import CSelectors

/// Process-wide bookkeeping of which signals have the C forwarder installed.
///
/// The first loop that watches a signal installs the forwarder (saving the old disposition);
/// the last one to stop watching restores it, so a process that stops using the loop gets
/// its previous signal behaviour back.
enum SignalRegistry {
    private struct Installed {
        var watchers: Int
        var previous: sigaction
    }

    private static let installed = Locked<[Int32: Installed]>([:])

    /// The signal numbers the forwarder handles.
    static let signalNumbers: ClosedRange<Int32> = 1...Int32(CSELECTORS_SIGNAL_LIMIT - 1)

    /// How many loops may watch one signal at once: the C handler's fixed table, since a
    /// signal handler cannot allocate.
    static let loopsPerSignal = Int(CSELECTORS_SIGNAL_TARGETS)

    /// Routes `signal` (one of `signalNumbers`) to the pipe whose write end is `fd`; false if
    /// `loopsPerSignal` loops watch it already.
    /// - Throws: what `sigaction` refused (`EINVAL` for `SIGKILL` and `SIGSTOP`).
    @inline(never)
    static func watch(_ signal: Int32, writingTo fd: Int32) throws(Errno) -> Bool {
        try installed.withLock { (table: inout [Int32: Installed]) throws(Errno) -> Bool in
            guard cselectors_signal_add_target(signal, fd) == 0 else { return false }
            if var entry = table[signal] {
                entry.watchers += 1
                table[signal] = entry
                return true
            }
            var previous = sigaction()
            guard cselectors_signal_install(signal, &previous) == 0 else {
                let error = Errno.current
                cselectors_signal_remove_target(signal, fd)
                cselectors_signal_quiesce()
                throw error
            }
            table[signal] = Installed(watchers: 1, previous: previous)
            return true
        }
    }

    /// Stops routing `signal` to `fd`, and returns only once no signal handler running on any
    /// thread can still write to `fd`, so the caller may close it: without the wait, a handler
    /// that had just loaded the number could write its byte into whatever file is opened at
    /// that number next (the proof is at `cselectors_signal_quiesce`).
    @inline(never)
    static func unwatch(_ signal: Int32, writingTo fd: Int32) {
        installed.withLock { table in
            cselectors_signal_remove_target(signal, fd)
            cselectors_signal_quiesce()
            guard var entry = table[signal] else { return }
            entry.watchers -= 1
            if entry.watchers == 0 {
                _ = cselectors_signal_restore(signal, &entry.previous)
                table[signal] = nil
            } else {
                table[signal] = entry
            }
        }
    }

    /// How many times `signal` was delivered to the pipe whose write end is `fd` since the
    /// last call. Here, not in the watcher: the counts live in the C handler's statics,
    /// which only this file's copy of the header shares (see `CSelectors.h`). Never inlined,
    /// as none of these functions may be: a release build inlined this one into the
    /// watcher's file, whose copy of the header has counts of its own that no handler
    /// touches, and every signal was lost (the echo-server ignored SIGTERM).
    @inline(never)
    static func takeDeliveries(of signal: Int32, writingTo fd: Int32) -> Int {
        Int(cselectors_signal_take_deliveries(signal, fd))
    }
}
