#if !os(Linux) && !canImport(Darwin) && !os(FreeBSD) && !os(OpenBSD)
    #error("Selectors supports Linux (epoll) and Apple/BSD systems (kqueue) only.")
#endif
