// Header-only bridge to the system calls the Selectors module needs.
//
// Swift's Glibc module does not export epoll, eventfd, timerfd or signalfd, and it cannot
// import the fd_set macros or errno (a thread-local macro) as callable functions. Every
// Swift file in the library imports this module instead of Glibc or Darwin, so the
// platform split stays here and in the few whole-file backends.
#ifndef CSELECTORS_H
#define CSELECTORS_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#endif

#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
#include <sys/event.h>
#endif

static inline int cselectors_errno(void) { return errno; }
static inline void cselectors_set_errno(int value) { errno = value; }

// fd_set is a macro API; these make it callable from Swift. Callers check the
// fd against FD_SETSIZE first: the macros do not.
static inline void cselectors_fd_zero(fd_set *set) { FD_ZERO(set); }
static inline void cselectors_fd_set(int fd, fd_set *set) { FD_SET(fd, set); }
static inline void cselectors_fd_clr(int fd, fd_set *set) { FD_CLR(fd, set); }
static inline int cselectors_fd_isset(int fd, const fd_set *set) { return FD_ISSET(fd, set); }
static inline int cselectors_fd_setsize(void) { return FD_SETSIZE; }

// fcntl is variadic, which Swift cannot call directly.
static inline int cselectors_fcntl_get(int fd, int command) { return fcntl(fd, command); }
static inline int cselectors_fcntl_set(int fd, int command, int value) {
  return fcntl(fd, command, value);
}

#if defined(__linux__)
// accept4 is a GNU extension that glibc declares only under _GNU_SOURCE, which the
// precompiled system module was not built with; the prototype is the kernel ABI.
extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
static inline int cselectors_accept4(int fd, struct sockaddr *address, socklen_t *length,
                                     int flags) {
  return accept4(fd, address, length, flags);
}
#endif

#endif
