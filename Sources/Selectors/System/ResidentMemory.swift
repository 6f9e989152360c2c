/// The process's resident memory, as an operator's `ps` or `top` shows it.
public enum ResidentMemory {
    /// Takes out of the process's resident set the pages mapped from files that it holds only
    /// as copies of those files, such as program code and read-only data start-up touched;
    /// returns how many bytes of mappings it advised.
    ///
    /// Call it once start-up is over. Start-up touches code and data spread over the whole
    /// binary (the Swift runtime's type lookups, option parsing, thread creation), and the
    /// kernel maps 64 KiB around each page touched, so a statically linked server otherwise
    /// carries about 4 MiB it will not use again. Each private file mapping of
    /// `/proc/self/smaps` that was never written (no anonymous page, resident or swapped out) is
    /// dropped whole (`madvise(MADV_DONTNEED)`); in the others (writable data, relocated
    /// read-only parts) the pages still the file's own (`/proc/self/pagemap`) go to reclaim
    /// (`madvise(MADV_PAGEOUT)`), which never discards a write, and the process's own copies
    /// stay. What is used afterwards comes back from the page cache (or from the file, if
    /// reclaim or memory pressure evicted it), and only that counts again.
    ///
    /// Call it while no other thread unmaps files or unloads libraries (`dlclose`): it works
    /// from a snapshot of the mappings, and memory mapped anew at a dropped address between
    /// the snapshot and the `madvise` would be cleared. Linux only; elsewhere it does nothing
    /// and returns 0.
    @discardableResult
    public static func releaseStartUpPages() -> Int { releaseCleanFilePages() }
}
