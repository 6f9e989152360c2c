#if os(Linux)
    import Selectors

    /// Failures seen by the client, by kind. Any of them fails the run; `short` and `mismatch`
    /// are byte errors (the echo was wrong, not just the connection).
    struct ErrorCounts: Sendable {
        /// The connection was refused (`ECONNREFUSED`).
        var refused = 0
        /// The server reset the connection (`ECONNRESET`, `EPIPE`).
        var reset = 0
        /// The stream ended before the whole echo came back (or an idle connection was closed).
        var short = 0
        /// A byte differed from what was sent, or more came back than was sent.
        var mismatch = 0
        /// An operation made no progress for too long, or a connection could not be opened in time.
        var timeout = 0
        /// An operation still unanswered when the run ended, after waiting up to the operation
        /// timeout for it: the server hung on it. (A run shorter than the timeout would
        /// otherwise end before the hang could count as a timeout.)
        var stalled = 0
        /// Any other system error; the last one is kept for the report.
        var other = 0
        var lastOther: Errno?

        var total: Int { refused + reset + short + mismatch + timeout + stalled + other }
        var byteErrors: Int { short + mismatch }

        /// Counts a failed system call under its kind.
        mutating func record(_ error: Errno) {
            switch error {
            case .connectionRefused: refused += 1
            case .connectionReset, .brokenPipe: reset += 1
            case .timedOut: timeout += 1
            default:
                other += 1
                lastOther = error
            }
        }

        mutating func merge(_ other: ErrorCounts) {
            refused += other.refused
            reset += other.reset
            short += other.short
            mismatch += other.mismatch
            timeout += other.timeout
            stalled += other.stalled
            self.other += other.other
            lastOther = other.lastOther ?? lastOther
        }

        /// For example `refused 2, short 1`; `none` when clean.
        var summary: String {
            var parts: [String] = []
            for (name, value) in [
                ("refused", refused), ("reset", reset), ("short", short), ("mismatch", mismatch),
                ("timeout", timeout), ("stalled", stalled), ("other", other),
            ] where value > 0 {
                parts.append("\(name) \(value)")
            }
            if let lastOther { parts.append("last other: \(lastOther)") }
            return parts.isEmpty ? "none" : parts.joined(separator: ", ")
        }
    }
#endif
