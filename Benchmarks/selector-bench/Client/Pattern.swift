#if os(Linux)
    import CSelectors

    /// Deterministic pseudo-random bytes that every message and stream is cut from, so each
    /// received byte can be checked with one `memcmp` against the table.
    ///
    /// The table is a prime number of bytes long (not a multiple of any buffer size), followed
    /// by a copy of its start, so any slice of up to `maximumSlice` bytes starting anywhere in
    /// the first `period` bytes is contiguous. Data that arrives shifted, duplicated, or from
    /// another connection fails the comparison.
    final class Pattern {
        /// Slices start at an offset below this.
        let period = 1_048_573
        let maximumSlice: Int
        private let bytes: UnsafeMutableRawPointer

        init(maximumSlice: Int) {
            self.maximumSlice = maximumSlice
            let total = period + maximumSlice
            bytes = .allocate(byteCount: total, alignment: 16)
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            for index in 0..<period {
                // xorshift64*: fast, and no short cycles that would hide a shifted stream.
                state ^= state >> 12
                state ^= state << 25
                state ^= state >> 27
                bytes.storeBytes(
                    of: UInt8(truncatingIfNeeded: (state &* 0x2545_F491_4F6C_DD1D) >> 56),
                    toByteOffset: index, as: UInt8.self)
            }
            for index in 0..<maximumSlice {
                bytes.storeBytes(
                    of: bytes.load(fromByteOffset: index % period, as: UInt8.self),
                    toByteOffset: period + index, as: UInt8.self)
            }
        }

        deinit { bytes.deallocate() }

        /// Where message `sequence` of connection `connection` starts: spread so two
        /// connections' messages, or two messages of one connection, differ.
        @inline(__always)
        func messageOffset(connection: Int, sequence: Int) -> Int {
            (connection &* 7_919 &+ sequence &* 104_729) % period
        }

        /// Where a stream starts, for `connection`'s byte `position`.
        @inline(__always)
        func streamOffset(connection: Int, position: Int) -> Int {
            (connection &* 524_287 &+ position) % period
        }

        /// A pointer to the bytes from `offset` (below `period`) on.
        @inline(__always)
        func pointer(at offset: Int) -> UnsafeRawPointer { UnsafeRawPointer(bytes + offset) }

        /// Whether `count` received bytes equal the pattern from `offset`.
        @inline(__always)
        func matches(_ received: UnsafeRawPointer, count: Int, at offset: Int) -> Bool {
            memcmp(received, bytes + offset, count) == 0
        }
    }
#endif
