/// The process's resident memory, as an operator's `ps` or `top` shows it.
public enum ResidentMemory {
    /// Takes out of the process's resident set the pages of program code and read-only data
    /// that are mapped from files and were never written (`madvise(MADV_DONTNEED)` on each such
    /// mapping of `/proc/self/smaps`); returns how many bytes of mappings it advised.
    ///
    /// Call it once start-up is over. Start-up touches code spread over the whole binary (the
    /// Swift runtime's type lookups, option parsing, thread creation), and the kernel maps
    /// 64 KiB around each page touched, so a statically linked server otherwise carries
    /// about 4 MiB of code it will not run again. The pages stay in the page cache: whatever is
    /// used afterwards comes back with a minor fault (or, if memory pressure evicted it
    /// meanwhile, is read again like any page of code), and only that counts again. Nothing
    /// else changes: writable mappings, and read-only ones with any page ever written (a
    /// relocation; resident or swapped out), are left alone.
    ///
    /// Call it while no other thread unmaps files or unloads libraries (`dlclose`): it works
    /// from a snapshot of the mappings, and memory mapped anew at a released address between
    /// the snapshot and the `madvise` would be cleared. Linux only; elsewhere it does nothing
    /// and returns 0.
    @discardableResult
    public static func releaseStartUpPages() -> Int { releaseCleanFilePages() }
}
