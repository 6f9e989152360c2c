// The io_uring rings of the uring backend (Sources/Selectors/Backends/Uring/), on raw system
// calls: io_uring_setup(2), io_uring_enter(2), io_uring_register(2) and the three mmapped
// regions they describe. No liburing. Swift sees only `struct cselectors_uring`, the small
// `struct cselectors_uring_completion` and the functions below; the kernel's own structs stay
// in this file.
//
// Memory ordering, the one place it matters. The submission and completion rings are shared
// with the kernel, which reads the SQ tail and the CQ head and writes the SQ head and the CQ
// tail. The rules (the kernel's side is io_uring/io_uring.c):
// - an SQE and its slot in the SQ array are written before the SQ tail is published, so the
//   tail is stored with release order (cselectors_uring_publish);
// - the CQ tail is loaded with acquire order before the CQEs up to it are read, and the CQ head
//   is stored with release order after they were read, so the kernel cannot overwrite an
//   entry still being read (cselectors_uring_completions_ready, cselectors_uring_consume);
// - the SQ head (how far the kernel took SQEs) is loaded with acquire order before a slot it
//   freed is written again (cselectors_uring_space).
// Everything else (the ring flags) is read after io_uring_enter returned, a full barrier.
// The loads and stores use C11's memory orders through the compiler's __atomic builtins, as
// the signal forwarder in CSelectors.h does (<stdatomic.h> cannot be imported into Swift).
#ifndef CSELECTORS_URING_H
#define CSELECTORS_URING_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// The backend only exists on Linux, and only where the C library's kernel headers describe
// io_uring (linux-libc-dev 5.1 and later). Elsewhere the same functions exist and fail with
// ENOSYS, so the Swift code compiles unchanged and the probe reports why.
#if defined(__linux__) && !defined(SELECTORS_BSD_TYPECHECK) && defined(__has_include)
#if __has_include(<linux/io_uring.h>)
#define CSELECTORS_HAS_IO_URING 1
#endif
#endif

// What the backend keeps of a ring: the mapped regions and pointers into them. Plain C types
// only, so Swift imports it whether or not the kernel headers are there.
struct cselectors_uring {
  int fd;
  unsigned features;          // IORING_FEAT_* the kernel reported
  unsigned sq_entries;
  unsigned cq_entries;
  // Submission queue. `sq_tail` is the library's own tail: SQEs written but not yet published.
  unsigned *sq_khead;
  unsigned *sq_ktail;
  unsigned *sq_kflags;
  unsigned *sq_array;  // NULL with IORING_SETUP_NO_SQARRAY
  unsigned sq_mask;
  unsigned sq_tail;
  void *sqes;
  // Completion queue.
  unsigned *cq_khead;
  unsigned *cq_ktail;
  unsigned cq_mask;
  void *cqes;
  // The mappings, for munmap.
  void *ring_map;
  size_t ring_map_size;
  void *sqe_map;
  size_t sqe_map_size;
};

// One completion, copied out of the CQ: the request's user data, its result (a poll mask, or
// a negative errno), and whether the request stays armed (IORING_CQE_F_MORE).
struct cselectors_uring_completion {
  uint64_t user_data;
  int32_t result;
  int32_t more;
};

#if defined(CSELECTORS_HAS_IO_URING)
#include <linux/io_uring.h>
#include <linux/time_types.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// Names the kernel ABI has but older <linux/io_uring.h> copies lack. The values are the
// kernel's (include/uapi/linux/io_uring.h) and never change.
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)  // 5.18
#endif
#ifndef IORING_SETUP_TASKRUN_FLAG
#define IORING_SETUP_TASKRUN_FLAG (1U << 9)  // 5.19
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)  // 6.0
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)  // 6.1
#endif
#ifndef IORING_SQ_TASKRUN
#define IORING_SQ_TASKRUN (1U << 2)  // 5.19
#endif
#ifndef IORING_FEAT_CQE_SKIP
#define IORING_FEAT_CQE_SKIP (1U << 11)  // 5.17
#endif
#ifndef IOSQE_CQE_SKIP_SUCCESS
#define IOSQE_CQE_SKIP_SUCCESS (1U << 6)  // 5.17
#endif
#ifndef IORING_REGISTER_ENABLE_RINGS
#define IORING_REGISTER_ENABLE_RINGS 12  // 5.10
#endif
#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16)  // 6.6
#endif
#define CSELECTORS_IORING_REGISTER_RESIZE_RINGS 33  // 6.13; absent from older headers

static inline int cselectors_uring_error(long result) { return result < 0 ? -errno : (int)result; }

// Maps the rings io_uring_setup (or a resize) described in `params`, and points `ring` into
// them. Without IORING_SETUP_NO_SQARRAY (kernels before 6.6) the SQ array maps slot i to
// SQE i once and for all, as every SQE is written in order.
static inline int cselectors_uring_map(struct cselectors_uring *ring,
                                       const struct io_uring_params *params) {
  int has_array = !(params->flags & IORING_SETUP_NO_SQARRAY);
  size_t sq_size = params->sq_off.array + (has_array ? params->sq_entries * sizeof(unsigned) : 0);
  size_t cq_size = params->cq_off.cqes + params->cq_entries * sizeof(struct io_uring_cqe);
  size_t size = sq_size > cq_size ? sq_size : cq_size;  // one mapping: IORING_FEAT_SINGLE_MMAP
  void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->fd,
                   IORING_OFF_SQ_RING);
  if (map == MAP_FAILED) return -errno;
  size_t sqe_size = params->sq_entries * sizeof(struct io_uring_sqe);
  void *sqes = mmap(NULL, sqe_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->fd,
                    IORING_OFF_SQES);
  if (sqes == MAP_FAILED) {
    int error = errno;
    munmap(map, size);
    return -error;
  }
  char *base = (char *)map;
  ring->ring_map = map;
  ring->ring_map_size = size;
  ring->sqe_map = sqes;
  ring->sqe_map_size = sqe_size;
  ring->sq_entries = params->sq_entries;
  ring->cq_entries = params->cq_entries;
  ring->sq_khead = (unsigned *)(base + params->sq_off.head);
  ring->sq_ktail = (unsigned *)(base + params->sq_off.tail);
  ring->sq_kflags = (unsigned *)(base + params->sq_off.flags);
  ring->sq_array = has_array ? (unsigned *)(base + params->sq_off.array) : NULL;
  ring->sq_mask = *(unsigned *)(base + params->sq_off.ring_mask);
  ring->sq_tail = *ring->sq_ktail;
  ring->sqes = sqes;
  ring->cq_khead = (unsigned *)(base + params->cq_off.head);
  ring->cq_ktail = (unsigned *)(base + params->cq_off.tail);
  ring->cq_mask = *(unsigned *)(base + params->cq_off.ring_mask);
  ring->cqes = base + params->cq_off.cqes;
  if (has_array) {
    for (unsigned index = 0; index < params->sq_entries; index++) ring->sq_array[index] = index;
  }
  return 0;
}

static inline void cselectors_uring_unmap(struct cselectors_uring *ring) {
  if (ring->ring_map) munmap(ring->ring_map, ring->ring_map_size);
  if (ring->sqe_map) munmap(ring->sqe_map, ring->sqe_map_size);
  ring->ring_map = NULL;
  ring->sqe_map = NULL;
}

// io_uring_setup(2) for a readiness backend, then the mappings. Returns 0 or -errno.
// - SINGLE_ISSUER | DEFER_TASKRUN: completions are produced only inside this thread's
//   io_uring_enter, never behind its back (a poll result is computed at the wait, as
//   epoll_wait computes it). R_DISABLED: the thread that enables the ring (its first wait) is
//   the one issuer, not the thread that created it.
// - TASKRUN_FLAG: the kernel sets IORING_SQ_TASKRUN while deferred work is still queued (it
//   runs at most a few dozen items per wait), so the backend knows to enter again.
// - SUBMIT_ALL: one failing SQE does not stop the ones after it.
// - NO_SQARRAY (6.6, dropped where the kernel refuses it): SQEs are taken in ring order
//   without the index array, which is also the only layout a resize describes completely.
static inline int cselectors_uring_setup(struct cselectors_uring *ring, unsigned sq_entries,
                                         unsigned cq_entries) {
  memset(ring, 0, sizeof *ring);
  ring->fd = -1;
  struct io_uring_params params;
  int fd = -EINVAL;
  for (int attempt = 0; attempt < 2 && fd == -EINVAL; attempt++) {
    memset(&params, 0, sizeof params);
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                   IORING_SETUP_R_DISABLED | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL |
                   IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP |
                   (attempt == 0 ? IORING_SETUP_NO_SQARRAY : 0);
    params.cq_entries = cq_entries;
    fd = cselectors_uring_error(syscall(__NR_io_uring_setup, sq_entries, &params));
  }
  if (fd < 0) return fd;
  ring->fd = fd;
  ring->features = params.features;
  int mapped = cselectors_uring_map(ring, &params);
  if (mapped < 0) {
    close(fd);
    ring->fd = -1;
  }
  return mapped;
}

// Unmaps the rings and closes the ring fd. The kernel then cancels what is still armed, and
// releases the files those polls hold, asynchronously.
static inline void cselectors_uring_close(struct cselectors_uring *ring) {
  cselectors_uring_unmap(ring);
  if (ring->fd >= 0) close(ring->fd);
  ring->fd = -1;
}

// IORING_REGISTER_ENABLE_RINGS: the calling thread becomes the ring's single issuer.
static inline int cselectors_uring_enable(struct cselectors_uring *ring) {
  return cselectors_uring_error(
      syscall(__NR_io_uring_register, ring->fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0));
}

// IORING_REGISTER_RESIZE_RINGS (Linux 6.13): new rings of the given sizes, with whatever the
// old ones held copied over; then the new rings are mapped in place of the old. Returns 0 or
// -errno (EINVAL on kernels without it; the old rings are then still in place). Only for a
// ring without an SQ array: the kernel does not say where a resized one put it.
static inline int cselectors_uring_resize(struct cselectors_uring *ring, unsigned sq_entries,
                                          unsigned cq_entries) {
  if (ring->sq_array) return -EOPNOTSUPP;
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  params.sq_entries = sq_entries;
  params.cq_entries = cq_entries;
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  int result = cselectors_uring_error(syscall(
      __NR_io_uring_register, ring->fd, CSELECTORS_IORING_REGISTER_RESIZE_RINGS, &params, 1));
  if (result < 0) return result;
  cselectors_uring_unmap(ring);
  params.flags |= IORING_SETUP_NO_SQARRAY;  // copied from the ring, not always reported back
  return cselectors_uring_map(ring, &params);
}

// IORING_REGISTER_PROBE: 1 when the kernel supports IORING_OP_POLL_ADD, POLL_REMOVE and
// ASYNC_CANCEL (the backend removes polls with the last), 0 when not, or -errno.
static inline int cselectors_uring_supports_poll(struct cselectors_uring *ring) {
  // A struct io_uring_probe with room for every opcode (at most 256), 8-byte aligned.
  uint64_t storage[(sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op)) / 8 + 1];
  memset(storage, 0, sizeof storage);
  struct io_uring_probe *probe = (struct io_uring_probe *)storage;
  int result = cselectors_uring_error(
      syscall(__NR_io_uring_register, ring->fd, IORING_REGISTER_PROBE, probe, 256));
  if (result < 0) return result;
  int ops[] = {IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE, IORING_OP_ASYNC_CANCEL};
  for (unsigned index = 0; index < sizeof ops / sizeof ops[0]; index++) {
    if (probe->ops_len <= ops[index] || !(probe->ops[ops[index]].flags & IO_URING_OP_SUPPORTED)) {
      return 0;
    }
  }
  return 1;
}

// Whether the kernel has what the backend needs beyond the setup flags: CQEs kept when the CQ
// is full (NODROP), a timeout passed to io_uring_enter (EXT_ARG), CQEs skipped on success
// (CQE_SKIP). Every kernel that accepts DEFER_TASKRUN (6.1) has them; checked all the same.
static inline int cselectors_uring_has_features(const struct cselectors_uring *ring) {
  unsigned needed = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG |
                    IORING_FEAT_CQE_SKIP;
  return (ring->features & needed) == needed;
}

// ---- Submission ----

// SQEs that can still be written before the ring is full.
static inline unsigned cselectors_uring_space(const struct cselectors_uring *ring) {
  unsigned head = __atomic_load_n(ring->sq_khead, __ATOMIC_ACQUIRE);
  return ring->sq_entries - (ring->sq_tail - head);
}

// SQEs written and not yet taken by the kernel.
static inline unsigned cselectors_uring_unsubmitted(const struct cselectors_uring *ring) {
  return ring->sq_tail - __atomic_load_n(ring->sq_khead, __ATOMIC_ACQUIRE);
}

static inline struct io_uring_sqe *cselectors_uring_next_sqe(struct cselectors_uring *ring) {
  struct io_uring_sqe *sqe = (struct io_uring_sqe *)ring->sqes + (ring->sq_tail & ring->sq_mask);
  memset(sqe, 0, sizeof *sqe);
  ring->sq_tail++;
  return sqe;
}

// IORING_OP_POLL_ADD on `fd` for the poll(2) bits in `events`; with IORING_POLL_ADD_MULTI
// when `multishot`. The caller checked cselectors_uring_space.
static inline void cselectors_uring_prepare_poll(struct cselectors_uring *ring, int fd,
                                                 unsigned events, int multishot,
                                                 uint64_t user_data) {
  struct io_uring_sqe *sqe = cselectors_uring_next_sqe(ring);
  sqe->opcode = IORING_OP_POLL_ADD;
  sqe->fd = fd;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  events = (events << 16) | (events >> 16);  // the kernel swaps the halves back (swahw32)
#endif
  sqe->poll32_events = events;
  sqe->len = multishot ? IORING_POLL_ADD_MULTI : 0;
  sqe->user_data = user_data;
}

// IORING_OP_ASYNC_CANCEL of the poll whose user data is `target`. Unlike IORING_OP_POLL_REMOVE,
// which fails with -EALREADY when the poll's completion is already queued (and leaves a
// multishot poll armed), a cancel marks the poll cancelled whatever its state, and the poll
// then completes with -ECANCELED. Success posts no CQE of its own (IOSQE_CQE_SKIP_SUCCESS), so
// exactly one CQE follows either way: the poll's -ECANCELED, or the cancel's failure (-ENOENT:
// the poll had completed) with `user_data`.
static inline void cselectors_uring_prepare_remove(struct cselectors_uring *ring, uint64_t target,
                                                   uint64_t user_data) {
  struct io_uring_sqe *sqe = cselectors_uring_next_sqe(ring);
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->addr = target;
  sqe->flags = IOSQE_CQE_SKIP_SUCCESS;
  sqe->user_data = user_data;
}

// Publishes the written SQEs to the kernel (release), and returns how many there are.
static inline unsigned cselectors_uring_publish(struct cselectors_uring *ring) {
  __atomic_store_n(ring->sq_ktail, ring->sq_tail, __ATOMIC_RELEASE);
  return cselectors_uring_unsubmitted(ring);
}

// io_uring_enter(2): submits the published SQEs; with `get_events`, runs the deferred work and
// waits until `min_complete` CQEs are in the ring or `timeout_ns` passes (a negative timeout:
// no limit). The timeout goes in a struct io_uring_getevents_arg (IORING_ENTER_EXT_ARG), in
// nanoseconds, so nothing is rounded. Returns what the call returns (the number of SQEs
// submitted, or 0), or -errno (-ETIME: the timeout passed; -EINTR: a signal; -EEXIST: not the
// ring's issuer thread).
static inline int cselectors_uring_enter(struct cselectors_uring *ring, unsigned min_complete,
                                         int get_events, int64_t timeout_ns) {
  unsigned to_submit = cselectors_uring_publish(ring);
  unsigned flags = get_events ? IORING_ENTER_GETEVENTS : 0;
  if (timeout_ns < 0) {  // no limit: no argument either
    return cselectors_uring_error(
        syscall(__NR_io_uring_enter, ring->fd, to_submit, min_complete, flags, NULL, 0));
  }
  struct __kernel_timespec timeout = {timeout_ns / 1000000000, timeout_ns % 1000000000};
  struct io_uring_getevents_arg argument;
  memset(&argument, 0, sizeof argument);
  argument.ts = (uint64_t)(uintptr_t)&timeout;
  return cselectors_uring_error(syscall(__NR_io_uring_enter, ring->fd, to_submit, min_complete,
                                        flags | IORING_ENTER_EXT_ARG, &argument, sizeof argument));
}

// ---- Completion ----

// CQEs ready to be read (acquire: their contents are visible after this load).
static inline unsigned cselectors_uring_completions_ready(const struct cselectors_uring *ring) {
  return __atomic_load_n(ring->cq_ktail, __ATOMIC_ACQUIRE) - *ring->cq_khead;
}

// The CQE `offset` places after the head; offset < cselectors_uring_completions_ready.
static inline struct cselectors_uring_completion
cselectors_uring_completion(const struct cselectors_uring *ring, unsigned offset) {
  const struct io_uring_cqe *cqe =
      (const struct io_uring_cqe *)ring->cqes + ((*ring->cq_khead + offset) & ring->cq_mask);
  struct cselectors_uring_completion completion = {
      cqe->user_data, cqe->res, (cqe->flags & IORING_CQE_F_MORE) != 0};
  return completion;
}

// Hands `count` read CQEs back to the kernel (release: reads done before the slots are reused).
static inline void cselectors_uring_consume(struct cselectors_uring *ring, unsigned count) {
  __atomic_store_n(ring->cq_khead, *ring->cq_khead + count, __ATOMIC_RELEASE);
}

// Whether deferred work is still queued (IORING_SQ_TASKRUN) or completions wait in the
// kernel's overflow list because the CQ was full (IORING_SQ_CQ_OVERFLOW): either way another
// io_uring_enter with get_events brings them in.
static inline int cselectors_uring_work_pending(const struct cselectors_uring *ring) {
  return (__atomic_load_n(ring->sq_kflags, __ATOMIC_ACQUIRE) &
          (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0;
}

// Whether completions wait in the kernel's overflow list (the CQ was full).
static inline int cselectors_uring_overflowed(const struct cselectors_uring *ring) {
  return (__atomic_load_n(ring->sq_kflags, __ATOMIC_ACQUIRE) & IORING_SQ_CQ_OVERFLOW) != 0;
}

#else  // no <linux/io_uring.h>: the backend reports itself unavailable.

static inline int cselectors_uring_setup(struct cselectors_uring *ring, unsigned sq_entries,
                                         unsigned cq_entries) {
  (void)sq_entries;
  (void)cq_entries;
  memset(ring, 0, sizeof *ring);
  ring->fd = -1;
  return -ENOSYS;
}
static inline void cselectors_uring_close(struct cselectors_uring *ring) { ring->fd = -1; }
static inline int cselectors_uring_enable(struct cselectors_uring *ring) {
  (void)ring;
  return -ENOSYS;
}
static inline int cselectors_uring_resize(struct cselectors_uring *ring, unsigned sq_entries,
                                          unsigned cq_entries) {
  (void)ring;
  (void)sq_entries;
  (void)cq_entries;
  return -ENOSYS;
}
static inline int cselectors_uring_supports_poll(struct cselectors_uring *ring) {
  (void)ring;
  return -ENOSYS;
}
static inline int cselectors_uring_has_features(const struct cselectors_uring *ring) {
  (void)ring;
  return 0;
}
static inline unsigned cselectors_uring_space(const struct cselectors_uring *ring) {
  (void)ring;
  return 0;
}
static inline unsigned cselectors_uring_unsubmitted(const struct cselectors_uring *ring) {
  (void)ring;
  return 0;
}
static inline void cselectors_uring_prepare_poll(struct cselectors_uring *ring, int fd,
                                                 unsigned events, int multishot,
                                                 uint64_t user_data) {
  (void)ring;
  (void)fd;
  (void)events;
  (void)multishot;
  (void)user_data;
}
static inline void cselectors_uring_prepare_remove(struct cselectors_uring *ring, uint64_t target,
                                                   uint64_t user_data) {
  (void)ring;
  (void)target;
  (void)user_data;
}
static inline int cselectors_uring_enter(struct cselectors_uring *ring, unsigned min_complete,
                                         int get_events, int64_t timeout_ns) {
  (void)ring;
  (void)min_complete;
  (void)get_events;
  (void)timeout_ns;
  return -ENOSYS;
}
static inline unsigned cselectors_uring_completions_ready(const struct cselectors_uring *ring) {
  (void)ring;
  return 0;
}
static inline struct cselectors_uring_completion
cselectors_uring_completion(const struct cselectors_uring *ring, unsigned offset) {
  (void)ring;
  (void)offset;
  struct cselectors_uring_completion none = {0, 0, 0};
  return none;
}
static inline void cselectors_uring_consume(struct cselectors_uring *ring, unsigned count) {
  (void)ring;
  (void)count;
}
static inline int cselectors_uring_work_pending(const struct cselectors_uring *ring) {
  (void)ring;
  return 0;
}
static inline int cselectors_uring_overflowed(const struct cselectors_uring *ring) {
  (void)ring;
  return 0;
}

#endif
#endif
