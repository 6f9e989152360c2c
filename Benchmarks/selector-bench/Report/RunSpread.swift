#if os(Linux)
    /// The rates of one row (a scenario on one target) over the repeated runs: the median that
    /// the summary reports, and the range that says how far to trust it.
    struct RunSpread {
        let rates: [Double]

        init(_ rates: [Double]) {
            precondition(!rates.isEmpty, "a spread needs at least one run")
            self.rates = rates.sorted()
        }

        var minimum: Double { rates[0] }
        var maximum: Double { rates[rates.count - 1] }

        /// The middle rate; the mean of the two middle ones for an even count.
        var median: Double {
            let middle = rates.count / 2
            return rates.count % 2 == 1 ? rates[middle] : (rates[middle - 1] + rates[middle]) / 2
        }

        /// Whether the two ranges overlap: a difference between their medians is then within
        /// the run-to-run noise of this machine, not a finding. Single runs have no range, so
        /// they never count as within noise (nor as evidence either way).
        func overlaps(_ other: RunSpread) -> Bool {
            rates.count > 1 && other.rates.count > 1 && minimum <= other.maximum && other.minimum <= maximum
        }
    }
#endif
