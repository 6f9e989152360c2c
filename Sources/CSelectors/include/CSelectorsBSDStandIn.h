// A stand-in for the BSD-only C declarations, used only by the BSD type-check build on Linux
// (`-Xswiftc -DSELECTORS_BSD_TYPECHECK -Xcc -DSELECTORS_BSD_TYPECHECK`, see `.ci/run`). That
// build compiles the kqueue backend, the BSD platform file and the BSD socket edge on a
// machine that has neither <sys/event.h> nor the BSD socket names; nothing it builds is
// linked or run. Every other build includes this file too (CSelectors.h must), and gets
// nothing from it.
//
// What it catches: Swift that does not compile against the C API as declared here: a misspelt
// field or constant, a wrong integer type or conversion, a wrong pointer or optionality in a
// kevent call, a throwing call without `try`, a missing switch case, and so on.
//
// What it cannot catch: anything about the kernel (whether kevent accepts a change list, how
// EV_CLEAR or EV_DISPATCH behave, what EOF looks like); drift between this file and the real
// headers (every declaration below is copied by hand from Darwin's and checked only by
// reading); and types that exist on both systems but differ, such as pthread_t (an integer in
// Glibc, a pointer on Darwin), the width of sa_family_t or the fields of struct stat: the build
// sees Glibc's version of all of those. It is a compiler's first pass, not a Mac.
//
// The declarations follow Darwin (macOS), whose headers are the ones most users compile
// against. FreeBSD agrees on everything used here except: its struct kevent has `int64_t data`
// and a trailing `uint64_t ext[4]`, EVFILT_USER is -11, and SO_NOSIGPIPE is 0x0800. Values
// never matter here (nothing runs); the types do, and they match.
//
// Spellings that C cannot fix (Glibc's SOCK_STREAM is an enum case, SHUT_WR an anonymous enum
// constant, sockaddr_storage has no ss_len) are given their Darwin types in Swift instead, in
// Sources/Selectors/Platform/BSDTypecheckShims.swift.
#ifndef CSELECTORS_BSD_STAND_IN_H
#define CSELECTORS_BSD_STAND_IN_H
#if defined(SELECTORS_BSD_TYPECHECK)
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
#error "SELECTORS_BSD_TYPECHECK stands in for <sys/event.h> on Linux; a real BSD has the real one"
#endif

#include <stdint.h>
#include <time.h>

// ---- <sys/event.h> ----

// Darwin packs it to 4 bytes; on 64-bit systems every field is naturally aligned anyway.
#pragma pack(4)
struct kevent {
  uintptr_t ident;  // the fd, for the read and write filters
  int16_t filter;   // EVFILT_*
  uint16_t flags;   // EV_*, in and out
  uint32_t fflags;  // NOTE_*, filter-specific
  intptr_t data;    // filter-specific: bytes readable or writable, or the errno with EV_ERROR
  void *udata;      // passed through untouched
};
#pragma pack()

// Filters (macros, so Swift imports them as Int32, as on Darwin).
#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_SIGNAL (-6)
#define EVFILT_TIMER (-7)
#define EVFILT_USER (-10)

// Actions.
#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008

// Flags.
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080

// Returned.
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

// EVFILT_USER's fflags.
#define NOTE_TRIGGER 0x01000000
#define NOTE_FFNOP 0x00000000
#define NOTE_FFLAGSMASK 0x00ffffff

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout);

// ---- <sys/socket.h> names Glibc lacks ----

// Turns SIGPIPE off per socket (setsockopt(SOL_SOCKET, SO_NOSIGPIPE)); Linux has MSG_NOSIGNAL.
#define SO_NOSIGPIPE 0x1022

// ---- <netinet/tcp.h> ----
// Darwin's name for the idle time before the first keepalive probe (Linux and FreeBSD:
// TCP_KEEPIDLE).
#define TCP_KEEPALIVE 0x10

#endif  // SELECTORS_BSD_TYPECHECK
#endif  // CSELECTORS_BSD_STAND_IN_H
