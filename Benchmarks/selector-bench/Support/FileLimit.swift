#if os(Linux)
    import CSelectors

    /// The process's descriptor limit, which bounds how many idle connections fit.
    enum FileLimit {
        /// Raises the soft `RLIMIT_NOFILE` to the hard one (`getrlimit`/`setrlimit`) and returns
        /// the soft limit now in force.
        static func raiseToHardLimit() -> Int {
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
            var limit = rlimit()
            guard getrlimit(resource, &limit) == 0 else { return 1024 }
            if limit.rlim_cur < limit.rlim_max {
                var raised = limit
                raised.rlim_cur = limit.rlim_max
                if setrlimit(resource, &raised) == 0 { limit = raised }
            }
            // RLIM_INFINITY is possible in principle; cap at a table size the server can allocate.
            return Int(min(limit.rlim_cur, UInt(1 << 24)))
        }

        /// The soft `RLIMIT_NOFILE` in force (`getrlimit`): no fd of this process reaches it.
        static func current() -> Int {
            var limit = rlimit()
            guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
            return Int(min(limit.rlim_cur, UInt(1 << 24)))
        }
    }
#endif
