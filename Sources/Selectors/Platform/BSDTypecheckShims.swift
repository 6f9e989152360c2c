#if SELECTORS_BSD_TYPECHECK
    // Only in the BSD type-check build on Linux (see .ci/run and CSelectorsBSDStandIn.h).
    // Glibc spells a few socket names differently from the BSDs in ways a C header cannot
    // paper over, so they are given their Darwin types here, in Swift. Declarations in this
    // module shadow the imported Glibc ones, so SocketPlatform+BSD.swift is checked exactly as
    // written for a Mac. Nothing here ever runs: the build is not linked.
    internal import CSelectors

    /// Darwin: `#define SOCK_STREAM 1`, imported as `Int32`. Glibc makes it a case of
    /// `enum __socket_type`.
    var SOCK_STREAM: Int32 { 1 }

    /// Darwin: `#define SOCK_DGRAM 2`, imported as `Int32`; Glibc: another enum case.
    var SOCK_DGRAM: Int32 { 2 }

    /// Darwin: `#define SHUT_WR 1`, imported as `Int32`. Glibc makes it an anonymous enum
    /// constant, imported as `Int`.
    var SHUT_WR: Int32 { 1 }

    extension sockaddr_storage {
        /// Darwin's `sockaddr_storage` starts with `__uint8_t ss_len`; Glibc's has no length.
        var ss_len: UInt8 {
            get { 0 }
            set {}
        }
    }
#endif
