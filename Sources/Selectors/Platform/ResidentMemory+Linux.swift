#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    extension ResidentMemory {
        /// Reads `/proc/self/smaps` and releases the pages of each private file mapping that
        /// the process holds only as copies of the file (see `releaseStartUpPages`).
        ///
        /// A mapping never written to (no anonymous page, resident or swapped out) is dropped
        /// whole with `MADV_DONTNEED`. Any other private file mapping (writable data, a
        /// relocated read-only part) is kept except for the pages that are still the file's
        /// own (`/proc/self/pagemap`): those are handed to reclaim with `MADV_PAGEOUT`, which,
        /// unlike `MADV_DONTNEED`, never discards a write: a page a thread writes meanwhile
        /// becomes the process's copy, which reclaim keeps (in memory, or in swap if there is
        /// any).
        ///
        /// Every mapping is judged before any is released: the parsing runs the code it needs
        /// while that code is still resident, and what runs after the first release is only
        /// the short loop of `madvise` calls. Releasing as the parse went faulted the parser
        /// back in, 64 KiB at a time (BENCHMARKS.md section 16).
        static func releaseCleanFilePages() -> Int {
            guard let smaps = SystemCall.readFile("/proc/self/smaps") else { return 0 }
            var mappings: [FileMapping] = []
            var current: FileMapping? = nil
            for line in smaps.split(separator: UInt8(ascii: "\n")) {
                let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
                guard let first = fields.first else { continue }
                if let range = addressRange(first) {
                    if let finished = current { mappings.append(finished) }
                    current = privateFileMapping(fields, range)
                } else if current != nil, fields.count >= 2 {
                    if first.elementsEqual("Anonymous:".utf8) {
                        current!.hasNoAnonymousPage = fields[1].elementsEqual("0".utf8)
                    } else if first.elementsEqual("Swap:".utf8) {
                        current!.hasNoSwappedPage = fields[1].elementsEqual("0".utf8)
                    } else if first.elementsEqual("VmFlags:".utf8) {
                        current!.isOrdinary = !fields.dropFirst().contains { untouchable.contains(Array($0)) }
                    }
                }
            }
            if let finished = current { mappings.append(finished) }
            let pagemap = cselectors_open_read_only("/proc/self/pagemap")
            defer { if pagemap >= 0 { close(pagemap) } }
            return release(mappings, pagemap: pagemap, pageSize: UInt(sysconf(Int32(_SC_PAGESIZE))))
        }

        /// Pages out first and drops whole mappings last, so that code (the program's own
        /// text among it) is dropped only when all that is left to run is this loop's tail;
        /// `echo-server`'s link order keeps that tail with the code the server runs afterwards.
        @inline(never)
        private static func release(_ mappings: [FileMapping], pagemap: Int32, pageSize: UInt) -> Int {
            var released = 0
            if pagemap >= 0 {
                for mapping in mappings where mapping.isOrdinary && !mapping.wasNeverWritten {
                    released += mapping.pageOutFilePages(pagemap: pagemap, pageSize: pageSize)
                }
            }
            for mapping in mappings where mapping.wasNeverWritten { released += mapping.drop() }
            return released
        }

        /// `VmFlags` of mappings left alone: hugetlb (smaps counts its private copies in
        /// neither `Anonymous` nor `Swap`, so a written one would look never written), I/O,
        /// PFN and mixed device memory (a driver that filled it at `mmap` need not fill it
        /// again), locked memory, and userfaultfd-managed ranges.
        private static let untouchable: [[UInt8]] = ["ht", "io", "pf", "mm", "lo", "um", "uw"].map {
            Array($0.utf8)
        }

        /// A private mapping of a file; what may be done with it is known once its whole
        /// entry is read: no anonymous and no swapped-out page (both fields must read 0), and
        /// `VmFlags` without any of `untouchable` (the field must be there).
        private struct FileMapping {
            let start: UInt
            let end: UInt
            let isWritable: Bool
            var hasNoAnonymousPage = false
            var hasNoSwappedPage = false
            var isOrdinary = false

            var wasNeverWritten: Bool { isOrdinary && !isWritable && hasNoAnonymousPage && hasNoSwappedPage }

            func drop() -> Int {
                let length = Int(end - start)
                return madvise(UnsafeMutableRawPointer(bitPattern: start), length, MADV_DONTNEED) == 0
                    ? length : 0
            }

            /// Hands to reclaim each run of pages that `pagemap` shows present, still the
            /// file's and mapped by this mapping alone (bit 63 present; bit 61 a file page, where
            /// a copy the process wrote is anonymous; bit 56 mapped once, since reclaim skips a
            /// page mapped twice). Reads the page map 512 entries at a time, so a huge mapping
            /// costs no huge buffer. Returns the bytes advised.
            func pageOutFilePages(pagemap: Int32, pageSize: UInt) -> Int {
                let filePage: UInt64 = 1 << 63 | 1 << 61 | 1 << 56
                let pages = Int((end - start) / pageSize)
                var entries = [UInt64](repeating: 0, count: 512)
                var advised = 0
                var runStart: Int? = nil
                var chunkStart = 0
                while chunkStart < pages {
                    let count = min(entries.count, pages - chunkStart)
                    let offset = off_t((start / pageSize) + UInt(chunkStart)) * 8
                    let read = try? SystemCall.retrying {
                        entries.withUnsafeMutableBytes { pread(pagemap, $0.baseAddress, count * 8, offset) }
                    }
                    guard read == count * 8 else { break }
                    for index in 0..<count {
                        let page = chunkStart + index
                        if entries[index] & filePage == filePage {
                            if runStart == nil { runStart = page }
                        } else if let first = runStart {
                            advised += pageOut(from: first, to: page, pageSize: pageSize)
                            runStart = nil
                        }
                    }
                    chunkStart += count
                }
                if let first = runStart {
                    advised += pageOut(from: first, to: chunkStart, pageSize: pageSize)
                }
                return advised
            }

            /// `madvise(MADV_PAGEOUT)` on pages `first..<end` of the mapping.
            private func pageOut(from first: Int, to end: Int, pageSize: UInt) -> Int {
                let address = UnsafeMutableRawPointer(bitPattern: start + UInt(first) * pageSize)
                let length = (end - first) * Int(pageSize)
                return madvise(address, length, MADV_PAGEOUT) == 0 ? length : 0
            }
        }

        /// A private mapping of a file (path absolute).
        private static func privateFileMapping(
            _ fields: [ArraySlice<UInt8>], _ range: (start: UInt, end: UInt)
        ) -> FileMapping? {
            guard fields.count >= 6, fields[1].count == 4, fields[5].first == UInt8(ascii: "/") else {
                return nil
            }
            let permissions = Array(fields[1])
            guard permissions[0] == UInt8(ascii: "r"), permissions[3] == UInt8(ascii: "p") else { return nil }
            return FileMapping(
                start: range.start, end: range.end, isWritable: permissions[1] == UInt8(ascii: "w"))
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
