#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    extension ResidentMemory {
        /// Reads `/proc/self/smaps` and advises `MADV_DONTNEED` on each mapping that qualifies
        /// (see `releaseStartUpPages`). A mapping with any anonymous page, resident or swapped
        /// out, was written to at some time (a relocation, say), and dropping it would undo that
        /// write: it is kept. So a mapping is judged only once its whole entry is read.
        static func releaseCleanFilePages() -> Int {
            guard let smaps = SystemCall.readFile("/proc/self/smaps") else { return 0 }
            var released = 0
            var candidate: Candidate? = nil
            for line in smaps.split(separator: UInt8(ascii: "\n")) {
                let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
                guard let first = fields.first else { continue }
                if let range = addressRange(first) {
                    if let finished = candidate { released += finished.release() }
                    candidate = isCleanFileCode(fields) ? Candidate(start: range.start, end: range.end) : nil
                } else if candidate != nil, fields.count >= 2 {
                    if first.elementsEqual("Anonymous:".utf8) {
                        candidate!.hasNoAnonymousPage = fields[1].elementsEqual("0".utf8)
                    } else if first.elementsEqual("Swap:".utf8) {
                        candidate!.hasNoSwappedPage = fields[1].elementsEqual("0".utf8)
                    }
                }
            }
            if let finished = candidate { released += finished.release() }
            return released
        }

        /// A mapping that may be released once its entry shows no anonymous and no swapped-out
        /// page (both fields must be there and read 0).
        private struct Candidate {
            let start: UInt
            let end: UInt
            var hasNoAnonymousPage = false
            var hasNoSwappedPage = false

            func release() -> Int {
                guard hasNoAnonymousPage && hasNoSwappedPage else { return 0 }
                let length = Int(end - start)
                return madvise(UnsafeMutableRawPointer(bitPattern: start), length, MADV_DONTNEED) == 0
                    ? length : 0
            }
        }

        /// A private mapping of a file (path absolute) that this process cannot write to.
        private static func isCleanFileCode(_ fields: [ArraySlice<UInt8>]) -> Bool {
            guard fields.count >= 6, fields[1].count == 4, fields[5].first == UInt8(ascii: "/") else {
                return false
            }
            let permissions = Array(fields[1])
            return permissions[0] == UInt8(ascii: "r") && permissions[1] == UInt8(ascii: "-")
                && permissions[3] == UInt8(ascii: "p")
        }

        /// `start-end` in hexadecimal, as the first field of a mapping's header line.
        private static func addressRange(_ field: ArraySlice<UInt8>) -> (start: UInt, end: UInt)? {
            let bounds = field.split(separator: UInt8(ascii: "-"))
            guard bounds.count == 2,
                let start = UInt(String(decoding: bounds[0], as: UTF8.self), radix: 16),
                let end = UInt(String(decoding: bounds[1], as: UTF8.self), radix: 16), end > start
            else { return nil }
            return (start, end)
        }
    }
#endif
