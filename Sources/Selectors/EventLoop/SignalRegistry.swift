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

    /// Routes `signal` to the pipe whose write end is `fd`.
    static func watch(_ signal: Int32, writingTo fd: Int32) throws(Errno) {
        try installed.withLock { (table: inout [Int32: Installed]) throws(Errno) in
            guard cselectors_signal_add_target(signal, fd) == 0 else { throw Errno.invalidArgument }
            if var entry = table[signal] {
                entry.watchers += 1
                table[signal] = entry
                return
            }
            var previous = sigaction()
            guard cselectors_signal_install(signal, &previous) == 0 else {
                let error = Errno.current
                cselectors_signal_remove_target(signal, fd)
                cselectors_signal_quiesce()
                throw error
            }
            table[signal] = Installed(watchers: 1, previous: previous)
        }
    }

    /// Stops routing `signal` to `fd`, and returns only once no signal handler running on any
    /// thread can still write to `fd`, so the caller may close it: without the wait, a handler
    /// that had just loaded the number could write its byte into whatever file is opened at
    /// that number next (the proof is at `cselectors_signal_quiesce`).
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
}
