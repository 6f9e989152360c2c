#if os(Linux)
    /// Number formatting without Foundation.
    enum Format {
        /// `value` rounded to `decimals` places: `fixed(3.14159, 2)` is `3.14`.
        static func fixed(_ value: Double, _ decimals: Int) -> String {
            guard value.isFinite else { return "-" }
            var scale = 1.0
            for _ in 0..<decimals { scale *= 10 }
            let scaled = (abs(value) * scale).rounded()
            let whole = Int(scaled / scale)
            let fraction = Int(scaled - Double(whole) * scale)
            var text = (value < 0 && scaled > 0 ? "-" : "") + String(whole)
            if decimals > 0 {
                let digits = String(fraction)
                text += "." + String(repeating: "0", count: decimals - digits.count) + digits
            }
            return text
        }

        /// With thousands separators: `grouped(1234567.8, decimals: 1)` is `1,234,567.8`.
        static func grouped(_ value: Double, decimals: Int) -> String {
            let text = fixed(value, decimals)
            let sign = text.hasPrefix("-") ? "-" : ""
            let unsigned = text.dropFirst(sign.count)
            let whole = unsigned.prefix { $0 != "." }
            let rest = unsigned.dropFirst(whole.count)
            var grouped = ""
            for (index, digit) in whole.enumerated() {
                if index > 0 && (whole.count - index) % 3 == 0 { grouped += "," }
                grouped.append(digit)
            }
            return sign + grouped + rest
        }

        static func grouped(_ value: Int) -> String { grouped(Double(value), decimals: 0) }

        /// A latency: `850 ns`, `41.2 µs`, `1.31 ms`, `2.04 s`.
        static func latency(_ nanoseconds: Int64?) -> String {
            guard let nanoseconds else { return "-" }
            let value = Double(nanoseconds)
            if value < 1_000 { return "\(nanoseconds) ns" }
            if value < 1_000_000 { return fixed(value / 1_000, value < 100_000 ? 1 : 0) + " µs" }
            if value < 1_000_000_000 { return fixed(value / 1_000_000, 2) + " ms" }
            return fixed(value / 1_000_000_000, 2) + " s"
        }

        /// A size: `64 B`, `64 KiB`, `1.5 MiB`.
        static func bytes(_ count: Int) -> String {
            if count < 1024 { return "\(count) B" }
            if count < 1 << 20 { return fixed(Double(count) / 1024, count % 1024 == 0 ? 0 : 1) + " KiB" }
            return fixed(Double(count) / 1_048_576, count % (1 << 20) == 0 ? 0 : 1) + " MiB"
        }

        static func padRight(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }

        static func padLeft(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
        }
    }
#endif
