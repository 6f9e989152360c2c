#if canImport(Darwin) || os(FreeBSD) || SELECTORS_BSD_TYPECHECK
    extension ResidentMemory {
        /// Not done here: there is no `/proc/self/smaps` to tell which mappings were never
        /// written, and the library has never run on these systems.
        static func releaseCleanFilePages() -> Int { 0 }
    }
#endif
