#if SELECTORS_BSD_TYPECHECK
    // Only in the BSD type-check build on Linux (see .ci/run and
    // Sources/CSelectors/include/CSelectorsBSDStandIn.h), so that LoopThread.swift's Apple/BSD
    // branch is compiled too. Nothing here ever runs: the build is not linked.
    internal import CSelectors

    /// Darwin's `pthread_create`, as Swift imports it: the handle is written through a
    /// `pthread_t _Nullable * _Nonnull` (Glibc's takes a plain `pthread_t *`, because its
    /// `pthread_t` is an integer, not a pointer).
    func pthread_create(
        _ thread: UnsafeMutablePointer<pthread_t?>,
        _ attributes: UnsafePointer<pthread_attr_t>?,
        _ start: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?,
        _ argument: UnsafeMutableRawPointer?
    ) -> Int32 {
        fatalError("the BSD type-check build is never run")
    }
#endif
