// OpenBSD is not among them: it has no SO_NOSIGPIPE and no TCP_KEEPIDLE, which the BSD socket
// edge uses, and nothing here has been built there.
#if !os(Linux) && !canImport(Darwin) && !os(FreeBSD)
    #error("Selectors supports Linux (epoll, io_uring) and Apple systems and FreeBSD (kqueue) only.")
#endif
