/// The process's resident memory, as an operator's `ps` or `top` shows it.
public enum ResidentMemory {
    /// Takes out of the process's resident set the pages mapped from files that it holds only
    /// as copies of those files, such as program code and data that start-up touched; returns
    /// how many bytes of mappings it advised (advised, not necessarily freed).
    ///
    /// Call it once start-up is over. Start-up touches code and data spread over the whole
    /// binary (the Swift runtime's type lookups, option parsing, thread creation), and the
    /// kernel maps 64 KiB around each page touched, so a statically linked server otherwise
    /// carries about 4 MiB it will not use again.
    ///
    /// - Each private file mapping of `/proc/self/smaps` that was never written (no anonymous
    ///   page, resident or swapped out) is dropped whole (`madvise(MADV_DONTNEED)`). Its pages
    ///   stay in the page cache: what is used afterwards comes back with a minor fault.
    /// - In the others (writable data, relocated read-only parts), the pages still the file's
    ///   own and mapped only here (`/proc/self/pagemap`) go to reclaim (`madvise(MADV_PAGEOUT)`),
    ///   which never discards a write; the pages the process wrote stay. Reclaim also evicts
    ///   them from the page cache, so what is used afterwards is read from the file again.
    ///   The kernel does this only for files the process owns or may write (a binary installed
    ///   by root and run by another user keeps these pages; nothing else changes).
    /// - Mappings the kernel treats specially (hugetlb, device memory, locked memory,
    ///   userfaultfd ranges: smaps `VmFlags` `ht`, `io`, `pf`, `mm`, `lo`, `um`, `uw`) are left
    ///   alone.
    ///
    /// Call it while no other thread maps or unmaps files, loads or unloads libraries
    /// (`dlopen`, `dlclose`), or makes code writable (`mprotect`; a debugger's breakpoints):
    /// it works from a snapshot of the mappings, and a page of a mapping judged never written
    /// that is written, or mapped anew, before the `madvise` would be cleared. Linux only;
    /// elsewhere it does nothing and returns 0.
    @discardableResult
    public static func releaseStartUpPages() -> Int { releaseCleanFilePages() }
}
