// Header-only bridge to the system calls the Selectors module needs.
//
// Swift's Glibc module does not export epoll, eventfd, timerfd or signalfd, and it cannot
// import errno (a thread-local macro) as something callable. Every
// Swift file in the library imports this module instead of Glibc or Darwin, so the
// platform split stays here and in the few whole-file backends.
#ifndef CSELECTORS_H
#define CSELECTORS_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/sockios.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#endif

#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
#include <sys/event.h>
#endif

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(__FreeBSD__) || defined(__OpenBSD__)
#include <pthread_np.h>
#endif

// Declares nothing unless SELECTORS_BSD_TYPECHECK is defined (the type-check build of the BSD
// code on Linux; see the file's own comment). Included on every system all the same, because
// an umbrella header that leaves out a header in its directory draws a compiler warning.
#include "CSelectorsBSDStandIn.h"

// The io_uring rings of the uring backend (Linux; elsewhere stubs that fail with ENOSYS).
#include "CSelectorsUring.h"

// ---- Ready events ----
// The record each backend reports a ready fd in: readiness flags and the registration's
// 64-bit token. On Linux it is `struct epoll_event` itself (packed on x86_64, as the kernel
// lays it out), so `epoll_wait` writes into the selector's buffer and nothing is copied;
// elsewhere a struct with the same fields. Backends that work out readiness themselves set
// only the two flags below, which are poll's values and, on Linux, epoll's.
#if defined(__linux__)
typedef struct epoll_event cselectors_ready_event;
_Static_assert(EPOLLIN == POLLIN && EPOLLOUT == POLLOUT, "epoll and poll flags differ");
#else
typedef struct cselectors_ready_event {
  uint32_t events;
  union {
    uint64_t u64;
  } data;
} cselectors_ready_event;
#endif
// The wait of a backend whose kernel fills ready events itself (`PollingBackend.directWaitFD`):
// epoll_wait on Linux, inlined into the selector's wait, so a wait costs the system call and
// no layer of the library's own. Elsewhere no backend offers one, and this fails with ENOSYS.
static inline int cselectors_direct_wait(int fd, void *events, int capacity, int timeout_ms) {
#if defined(__linux__) && !defined(SELECTORS_BSD_TYPECHECK)
  return epoll_wait(fd, (struct epoll_event *)events, capacity, timeout_ms);
#else
  (void)fd; (void)events; (void)capacity; (void)timeout_ms;
  errno = ENOSYS;
  return -1;
#endif
}
// Adds (`modify` 0) or changes (1) `fd` in a direct-wait set (the epoll instance above) with
// the library's events (bit 0 read, bit 1 write) and trigger (0 level, 1 edge, 2 one-shot),
// carrying `token`: epoll_ctl, with the one mapping of those to epoll's flags.
static inline int cselectors_direct_control(int set, int modify, int fd, unsigned events, int trigger,
                                            uint64_t token) {
#if defined(__linux__) && !defined(SELECTORS_BSD_TYPECHECK)
  struct epoll_event event;
  event.events = ((events & 1) ? EPOLLIN : 0) | ((events & 2) ? EPOLLOUT : 0) |
                 (trigger == 1 ? EPOLLET : 0) | (trigger == 2 ? EPOLLONESHOT : 0);
  event.data.u64 = token;
  return epoll_ctl(set, modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event);
#else
  (void)set; (void)modify; (void)fd; (void)events; (void)trigger; (void)token;
  errno = ENOSYS;
  return -1;
#endif
}
static const uint32_t cselectors_ready_in = POLLIN;
static const uint32_t cselectors_ready_out = POLLOUT;

// Anonymous pages of their own (`mmap`), for a buffer that grows and is replaced whole: unmapping
// gives its pages back at once. NULL when the kernel refuses.
static inline void *cselectors_map_pages(size_t size) {
  void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return memory == MAP_FAILED ? NULL : memory;
}
static inline void cselectors_unmap_pages(void *memory, size_t size) { munmap(memory, size); }

// Address space with no access and no memory committed (PROT_NONE), for a table whose entries
// must never move while it grows: `cselectors_commit_pages` opens a prefix of it for reading
// and writing as the table needs it. NULL when the kernel refuses.
static inline void *cselectors_reserve_pages(size_t size) {
  void *memory = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return memory == MAP_FAILED ? NULL : memory;
}
// 0, or -1 with errno set (ENOMEM where the system will not commit more memory).
static inline int cselectors_commit_pages(void *memory, size_t size) {
  return mprotect(memory, size, PROT_READ | PROT_WRITE);
}

static inline int cselectors_errno(void) { return errno; }
static inline void cselectors_set_errno(int value) { errno = value; }

// FD_SETSIZE as one function on every platform. The select backend sets its bitmap bits
// itself (DescriptorBitmap.swift), not with FD_SET: fortified glibc builds abort in FD_SET
// for an fd above 1023, and Linux's select(2) takes larger bitmaps than fd_set.
static inline int cselectors_fd_setsize(void) { return FD_SETSIZE; }

// fcntl is variadic, which Swift cannot call directly.
static inline int cselectors_fcntl_get(int fd, int command) { return fcntl(fd, command); }
static inline int cselectors_fcntl_set(int fd, int command, int value) {
  return fcntl(fd, command, value);
}

// ---- Socket queues ----
// ioctl is variadic, which Swift cannot call directly.

// Bytes received and not yet read (FIONREAD), or -1 with errno set.
static inline int cselectors_unread_bytes(int fd) {
  int count = 0;
  return ioctl(fd, FIONREAD, &count) < 0 ? -1 : count;
}

// Bytes written to a TCP socket that the peer has not acknowledged yet, sent or not, or -1
// with errno set: SIOCOUTQ on Linux, SO_NWRITE on Apple systems, FIONWRITE on FreeBSD.
static inline int cselectors_unacknowledged_bytes(int fd) {
  int count = 0;
#if defined(__linux__)
  return ioctl(fd, SIOCOUTQ, &count) < 0 ? -1 : count;
#elif defined(__APPLE__)
  socklen_t length = sizeof count;
  return getsockopt(fd, SOL_SOCKET, SO_NWRITE, &count, &length) < 0 ? -1 : count;
#elif defined(FIONWRITE)
  return ioctl(fd, FIONWRITE, &count) < 0 ? -1 : count;
#else
  errno = ENOTSUP;
  return -1;
#endif
}

// ---- Memory ----

// Gives the heap's free pages back to the system (glibc's malloc_trim(0), which also
// releases free pages in the middle of each arena). Elsewhere a no-op: other allocators
// return memory on their own terms.
static inline void cselectors_release_free_memory(void) {
#if defined(__GLIBC__)
  (void)malloc_trim(0);
#endif
}

// open(2) is variadic, which Swift cannot call: the read-only, close-on-exec form.
static inline int cselectors_open_read_only(const char *path) {
  return open(path, O_RDONLY | O_CLOEXEC);
}

#if defined(__linux__)
// accept4 is a GNU extension that glibc declares only under _GNU_SOURCE, which the
// precompiled system module was not built with; the prototype is the kernel ABI.
extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
static inline int cselectors_accept4(int fd, struct sockaddr *address, socklen_t *length,
                                     int flags) {
  return accept4(fd, address, length, flags);
}

// pipe2, like accept4, is declared only under _GNU_SOURCE; the prototype is the kernel ABI.
extern int pipe2(int fds[2], int flags);
static inline int cselectors_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
#endif

// Whether path names a socket file (lstat, S_ISSOCK): 1 yes, 0 no (some other kind of file),
// -1 with errno set (ENOENT when nothing is there). In C because mode_t and the S_IF* constants
// have different integer types in Glibc and Darwin.
static inline int cselectors_path_is_socket(const char *path) {
  struct stat status;
  if (lstat(path, &status) != 0) return -1;
  return S_ISSOCK(status.st_mode) ? 1 : 0;
}

// ---- Signal forwarding (the self-pipe trick) ----
//
// A signal handler may only make async-signal-safe calls, so it lives here in C rather than
// in Swift (where touching a global can run lazy initialisation). For each signal, up to
// CSELECTORS_SIGNAL_TARGETS event loops register the write end of a non-blocking pipe; the
// handler writes the signal number to each. Slots hold fd + 1 so that zero means empty.
// Only SignalRegistry.swift calls these: each Swift object file that uses an inline function
// gets its own copy of it, statics included, so a second caller would see a second table.
#define CSELECTORS_SIGNAL_LIMIT 65
#define CSELECTORS_SIGNAL_TARGETS 16

// A function-local static: Swift emits the storage of statics that live inside inline
// functions it uses, but not of file-scope statics in an imported header.
static inline int *cselectors_signal_slot(int signal_number, int slot) {
  static int targets[CSELECTORS_SIGNAL_LIMIT][CSELECTORS_SIGNAL_TARGETS];
  return &targets[signal_number][slot];
}

// Deliveries per target not yet taken by its loop: the pipe byte only wakes the loop, so a
// full pipe (a flood of one signal) cannot lose another signal.
static inline int *cselectors_signal_deliveries(int signal_number, int slot) {
  static int deliveries[CSELECTORS_SIGNAL_LIMIT][CSELECTORS_SIGNAL_TARGETS];
  return &deliveries[signal_number][slot];
}

// Handlers in flight, counted in two phases, so that a loop closing its pipe can wait for
// every handler that may still hold the pipe's number (see cselectors_signal_quiesce).
static inline int *cselectors_signal_phase(void) {
  static int phase;
  return &phase;
}

static inline int *cselectors_signal_in_flight(int phase) {
  static int counts[2];
  return &counts[phase & 1];
}

static void cselectors_signal_forward(int signal_number) {
  int saved_errno = errno;
  // Join the current phase; if a quiesce flipped it meanwhile, leave and join the new one,
  // so a handler counted in a phase saw that phase still current after counting itself.
  int phase = __atomic_load_n(cselectors_signal_phase(), __ATOMIC_SEQ_CST);
  for (;;) {
    __atomic_add_fetch(cselectors_signal_in_flight(phase), 1, __ATOMIC_SEQ_CST);
    int now = __atomic_load_n(cselectors_signal_phase(), __ATOMIC_SEQ_CST);
    if (now == phase) break;
    __atomic_sub_fetch(cselectors_signal_in_flight(phase), 1, __ATOMIC_SEQ_CST);
    phase = now;
  }
  if (signal_number > 0 && signal_number < CSELECTORS_SIGNAL_LIMIT) {
    unsigned char byte = (unsigned char)signal_number;
    for (int slot = 0; slot < CSELECTORS_SIGNAL_TARGETS; slot++) {
      int target = __atomic_load_n(cselectors_signal_slot(signal_number, slot), __ATOMIC_SEQ_CST);
      // A full pipe already holds a wake-up for this loop, so a failed write loses nothing.
      if (target > 0) {
        __atomic_add_fetch(cselectors_signal_deliveries(signal_number, slot), 1, __ATOMIC_SEQ_CST);
        (void)write(target - 1, &byte, 1);
      }
    }
  }
  __atomic_sub_fetch(cselectors_signal_in_flight(phase), 1, __ATOMIC_SEQ_CST);
  errno = saved_errno;
}

// Returns once no handler can still write to a target removed before the call, so the caller
// may close that descriptor without a late byte landing in whatever file reuses its number.
//
// Why it holds. Every access here, in the handler and in add/remove is sequentially
// consistent, so they all fall in one total order. A handler that writes to a removed target
// loaded it before the removal. Before that load it counted itself in a phase p and saw p
// still current. If no flip came between that check and this call's flip, p is the phase
// this call flips away from, its count was raised before the flip, and the wait below sees
// it until the handler returns. If a flip did come between, the earlier quiesce that made it
// flipped away from p and waited for p's count to drain, this handler included, before
// this call began. Handlers that join after the flip count in the other phase and load the
// targets after the removal, so they cannot see the removed one: the wait never depends on
// them, and a steady stream of signals cannot starve it. Callers are serialised
// (SignalRegistry's lock). A handler interrupting the caller's own thread returns before the
// caller resumes, so the caller never waits for itself.
static inline void cselectors_signal_quiesce(void) {
  int old = __atomic_load_n(cselectors_signal_phase(), __ATOMIC_SEQ_CST);
  __atomic_store_n(cselectors_signal_phase(), old ^ 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(cselectors_signal_in_flight(old), __ATOMIC_SEQ_CST) != 0) sched_yield();
}

// Returns 0, or -1 when the signal number is out of range or every slot is taken.
static inline int cselectors_signal_add_target(int signal_number, int fd) {
  if (signal_number <= 0 || signal_number >= CSELECTORS_SIGNAL_LIMIT) return -1;
  for (int slot = 0; slot < CSELECTORS_SIGNAL_TARGETS; slot++) {
    int expected = 0;
    if (__atomic_load_n(cselectors_signal_slot(signal_number, slot), __ATOMIC_SEQ_CST) != 0) continue;
    // A free slot: no handler can count into it (the last one that saw its previous target
    // ended before that target's removal returned), so its stale count may be cleared.
    __atomic_store_n(cselectors_signal_deliveries(signal_number, slot), 0, __ATOMIC_SEQ_CST);
    if (__atomic_compare_exchange_n(cselectors_signal_slot(signal_number, slot), &expected, fd + 1,
                                    0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
      return 0;
    }
  }
  return -1;
}

// Takes the deliveries of `signal_number` counted for the target `fd`.
static inline int cselectors_signal_take_deliveries(int signal_number, int fd) {
  if (signal_number <= 0 || signal_number >= CSELECTORS_SIGNAL_LIMIT) return 0;
  int total = 0;
  for (int slot = 0; slot < CSELECTORS_SIGNAL_TARGETS; slot++) {
    if (__atomic_load_n(cselectors_signal_slot(signal_number, slot), __ATOMIC_SEQ_CST) != fd + 1) continue;
    total += __atomic_exchange_n(cselectors_signal_deliveries(signal_number, slot), 0, __ATOMIC_SEQ_CST);
  }
  return total;
}

static inline void cselectors_signal_remove_target(int signal_number, int fd) {
  if (signal_number <= 0 || signal_number >= CSELECTORS_SIGNAL_LIMIT) return;
  for (int slot = 0; slot < CSELECTORS_SIGNAL_TARGETS; slot++) {
    int expected = fd + 1;
    __atomic_compare_exchange_n(cselectors_signal_slot(signal_number, slot), &expected, 0, 0,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  }
}

// Installs the forwarder for a signal, saving the previous disposition in *previous.
// SA_RESTART keeps other threads' blocking calls from failing with EINTR.
static inline int cselectors_signal_install(int signal_number, struct sigaction *previous) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = cselectors_signal_forward;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  return sigaction(signal_number, &action, previous);
}

static inline int cselectors_signal_restore(int signal_number, const struct sigaction *previous) {
  return sigaction(signal_number, previous, NULL);
}

// Ignores SIGPIPE process-wide, so a write to a closed socket fails with EPIPE instead.
static inline void cselectors_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

// Whether the signal's disposition is SIG_IGN now (for example inherited from `nohup`).
static inline int cselectors_signal_is_ignored(int signal_number) {
  struct sigaction current;
  if (sigaction(signal_number, NULL, &current) != 0) return 0;
  return !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN;
}

// The soft limit on open descriptors (getrlimit(RLIMIT_NOFILE)), or -1 when unlimited or
// unknown. The resource's C type differs between glibc and the BSDs; here it does not show.
static inline long long cselectors_open_files_limit(void) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return -1;
  return (long long)limit.rlim_cur;
}

// The hard limit on open descriptors (what the soft limit may be raised to), or -1 when
// unlimited or unknown.
static inline long long cselectors_open_files_ceiling(void) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_max == RLIM_INFINITY) return -1;
  return (long long)limit.rlim_max;
}

// What kind of file fd refers to (fstat), for choosing how to write to it without blocking:
// -1 not open, 0 regular file, 1 pipe or FIFO, 2 character device (a terminal, /dev/null),
// 3 socket, 4 anything else.
static inline int cselectors_fd_kind(int fd) {
  struct stat status;
  if (fstat(fd, &status) != 0) return -1;
  if (S_ISREG(status.st_mode)) return 0;
  if (S_ISFIFO(status.st_mode)) return 1;
  if (S_ISCHR(status.st_mode)) return 2;
  if (S_ISSOCK(status.st_mode)) return 3;
  return 4;
}

// A new open file description for the pipe, FIFO or terminal behind fd, write-only,
// non-blocking and close-on-exec. Setting O_NONBLOCK on fd itself would change the
// description it shares with other processes (a shell's terminal, say); this one is private.
// Linux reopens /proc/self/fd/N; elsewhere there is no such reopen and the result is -1.
static inline int cselectors_reopen_nonblocking(int fd) {
#if defined(__linux__)
  if (fd < 0) {
    errno = EBADF;
    return -1;
  }
  char path[32] = "/proc/self/fd/";
  char digits[12];
  int count = 0;
  do {
    digits[count++] = (char)('0' + fd % 10);
    fd /= 10;
  } while (fd > 0);
  size_t at = strlen(path);
  while (count > 0) path[at++] = digits[--count];
  path[at] = 0;
  return open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
#else
  (void)fd;
  errno = ENOSYS;
  return -1;
#endif
}

// send(2) that never blocks (MSG_DONTWAIT) and never raises SIGPIPE where MSG_NOSIGNAL exists.
static inline ssize_t cselectors_send_nowait(int fd, const void *bytes, size_t count) {
#if defined(MSG_NOSIGNAL)
  return send(fd, bytes, count, MSG_DONTWAIT | MSG_NOSIGNAL);
#else
  return send(fd, bytes, count, MSG_DONTWAIT);
#endif
}

// The largest write to a pipe that the system keeps whole (PIPE_BUF).
static inline int cselectors_pipe_buf(void) { return PIPE_BUF; }

// Threads: pthread_t is an integer in Glibc and a pointer on Apple systems, and naming a
// thread takes different arguments everywhere, so the library's one thread type
// (SystemThread.swift) goes through these and never spells either difference itself.
typedef struct {
  pthread_t thread;
} cselectors_thread;

// pthread_create with default attributes (joinable); 0 or the error number.
static inline int cselectors_thread_create(cselectors_thread *handle, void *(*start)(void *),
                                           void *argument) {
  return pthread_create(&handle->thread, NULL, start, argument);
}

static inline int cselectors_thread_join(cselectors_thread handle) {
  return pthread_join(handle.thread, NULL);
}

static inline int cselectors_thread_detach(cselectors_thread handle) {
  return pthread_detach(handle.thread);
}

// Names the calling thread for debuggers, top -H and /proc/PID/task/*/comm. Linux keeps 15
// bytes.
static inline void cselectors_thread_set_name(const char *name) {
#if defined(__APPLE__)
  pthread_setname_np(name);
#elif defined(__linux__)
  // prctl rather than pthread_setname_np, which glibc declares only with _GNU_SOURCE. It
  // names the calling thread and keeps the first 15 bytes itself.
  prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
#elif defined(__FreeBSD__) || defined(__OpenBSD__)
  pthread_set_name_np(pthread_self(), name);
#else
  (void)name;
#endif
}

#endif
