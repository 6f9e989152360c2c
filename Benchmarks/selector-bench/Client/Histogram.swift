#if os(Linux)
    /// Latencies in nanoseconds, in log-linear buckets: exact below 64 ns, then 32 buckets per
    /// power of two (at most about 3% wide). Fixed storage, so recording never allocates.
    struct Histogram: Sendable {
        private static let linearLimit: UInt64 = 64
        private static let subBucketBits = 5
        private static let bucketCount = 64 + (64 - 6) * 32

        private var counts = [UInt64](repeating: 0, count: Histogram.bucketCount)
        private(set) var count: UInt64 = 0
        private(set) var maximum: UInt64 = 0

        @inline(__always)
        mutating func record(_ nanoseconds: Int64) {
            let value = UInt64(max(nanoseconds, 0))
            counts[Histogram.index(of: value)] &+= 1
            count &+= 1
            if value > maximum { maximum = value }
        }

        mutating func reset() {
            for index in counts.indices { counts[index] = 0 }
            count = 0
            maximum = 0
        }

        mutating func merge(_ other: Histogram) {
            for index in counts.indices { counts[index] &+= other.counts[index] }
            count &+= other.count
            maximum = max(maximum, other.maximum)
        }

        /// The value below which `fraction` of the samples fall, as a bucket midpoint; `nil`
        /// when empty.
        func percentile(_ fraction: Double) -> Int64? {
            guard count > 0 else { return nil }
            let rank = UInt64((Double(count) * fraction).rounded(.up))
            var seen: UInt64 = 0
            for (index, bucketCount) in counts.enumerated() where bucketCount > 0 {
                seen += bucketCount
                if seen >= max(rank, 1) {
                    let (low, width) = Histogram.bounds(of: index)
                    return Int64(min(low + width / 2, maximum))
                }
            }
            return Int64(maximum)
        }

        @inline(__always)
        private static func index(of value: UInt64) -> Int {
            if value < linearLimit { return Int(value) }
            let exponent = 63 - value.leadingZeroBitCount  // >= 6
            let subBucket = Int(value >> UInt64(exponent - subBucketBits)) & ((1 << subBucketBits) - 1)
            return 64 + (exponent - 6) << subBucketBits + subBucket
        }

        private static func bounds(of index: Int) -> (low: UInt64, width: UInt64) {
            if index < 64 { return (UInt64(index), 1) }
            let exponent = (index - 64) >> subBucketBits + 6
            let subBucket = UInt64((index - 64) & ((1 << subBucketBits) - 1))
            let shift = UInt64(exponent - subBucketBits)
            return ((32 + subBucket) << shift, 1 << shift)
        }
    }
#endif
