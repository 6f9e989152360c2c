#if os(Linux)
    import CSelectors

    /// Unbuffered output through `write(2)`: the progress line, table rows and JSON lines then
    /// reach the terminal in the order they were produced, with no stdio buffer to flush.
    enum Terminal {
        static let isInteractive = isatty(1) == 1

        static func out(_ text: String) { write(1, text) }
        static func line(_ text: String = "") { write(1, text + "\n") }
        static func error(_ text: String) { write(2, text + "\n") }

        private static func write(_ fd: Int32, _ text: String) {
            var text = text
            text.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = CSelectors.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if cselectors_errno() == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }

    /// The one-line "what is running" indicator, redrawn in place; only on a terminal, and
    /// never in `--json` mode.
    struct ProgressLine: Sendable {
        let enabled: Bool
        let label: String
        let unit: RateUnit

        func update(elapsed: Double, total: Double, operations: Int, bytes: Int) {
            guard enabled, elapsed > 0 else { return }
            let rate = unit.rate(operations: operations, bytes: bytes, seconds: elapsed)
            Terminal.out(
                "\r\u{1B}[2K  \(label)  \(Format.fixed(elapsed, 1))/\(Format.fixed(total, 1)) s  "
                    + "\(unit.format(rate)) \(unit.rawValue)")
        }

        /// Shows a set-up step (such as opening idle connections) until the next update.
        func message(_ text: String) {
            if enabled { Terminal.out("\r\u{1B}[2K  \(label)  \(text)") }
        }

        func clear() {
            if enabled { Terminal.out("\r\u{1B}[2K") }
        }
    }

    /// What a scenario's headline rate counts.
    enum RateUnit: String, Sendable {
        case cycles = "cycles/s"
        case roundTrips = "rt/s"
        case mebibytes = "MiB/s"

        func rate(operations: Int, bytes: Int, seconds: Double) -> Double {
            guard seconds > 0 else { return 0 }
            return self == .mebibytes ? Double(bytes) / 1_048_576 / seconds : Double(operations) / seconds
        }

        func format(_ rate: Double) -> String {
            self == .mebibytes ? Format.grouped(rate, decimals: 1) : Format.grouped(rate, decimals: 0)
        }
    }
#endif
