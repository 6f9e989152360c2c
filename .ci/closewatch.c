// A close(2) that reports the calls failing with EBADF, preloaded into the test process by
// .ci/run (LD_PRELOAD).
//
// Why: a descriptor closed twice is closed the second time under a number the kernel may
// already have given to another file. In a test process running suites in parallel, that
// file belongs to another test (once a loop's eventfd, which then woke the loop by writing
// eight bytes into an unrelated socket). The harmful second close cannot be seen, since it
// succeeds; but the same mistake, when no one has taken the number yet, fails with EBADF, and
// a run of ~600 tests makes every such code path fail that way often enough. So the run must
// make no failing close at all: a test that closes a number deliberately checks first.
//
// Active only in the process whose name contains $CLOSEWATCH_PROGRAM (the test binary, not
// swift-build or the servers the tests start), and only in that process, not in its forked
// children; closes of numbers outside [0, RLIMIT_NOFILE) are misuse tests, not reuse hazards.
// Each failing close appends its stack (module and offset per frame) to
// $CLOSEWATCH_DIR/ebadf.<pid>.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int (*real_close)(int);
static pid_t watched_pid;
static rlim_t descriptor_limit;

__attribute__((constructor)) static void closewatch_init(void) {
    real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    const char *program = getenv("CLOSEWATCH_PROGRAM");
    if (program && *program && strstr(program_invocation_name, program)) {
        watched_pid = getpid();
        struct rlimit limit;
        descriptor_limit = getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : 1024;
    }
}

static void report(int fd) {
    const char *dir = getenv("CLOSEWATCH_DIR");
    if (!dir) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/ebadf.%d", dir, (int)getpid());
    int out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) return;
    char text[16384];
    int length = snprintf(text, sizeof text, "close(%d) failed with EBADF\n", fd);
    void *frames[64];
    int count = backtrace(frames, 64);
    for (int i = 1; i < count && length < (int)sizeof text - 512; i++) {
        Dl_info info;
        if (dladdr(frames[i], &info) && info.dli_fname)
            length += snprintf(text + length, sizeof text - length, "  %s 0x%lx\n", info.dli_fname,
                               (unsigned long)((char *)frames[i] - (char *)info.dli_fbase));
    }
    // One write per report, so reports from threads failing at once do not interleave.
    (void)write(out, text, (size_t)length);
    real_close(out);
}

int close(int fd) {
    int result = real_close(fd);
    if (result < 0 && errno == EBADF && watched_pid != 0 && getpid() == watched_pid && fd >= 0 &&
        (rlim_t)fd < descriptor_limit) {
        int saved = errno;
        report(fd);
        errno = saved;
    }
    return result;
}
