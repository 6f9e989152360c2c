import Glibc  // exit, write (import Darwin on macOS)
import Selectors

// Watch standard input and say when it is ready: `echo hello | swift run selector-basics`.
// (epoll refuses regular files with EPERM; a pipe or a terminal works everywhere.)
do {
    let selector = try DefaultSelector()  // epoll on Linux, kqueue on macOS
    try selector.register(0, events: .read) { fd, events in
        print("fd \(fd) is ready for \(events)")
    }
    for (key, events) in try selector.select(timeout: .seconds(5)) {
        key.handler(key.fd, events)
    }
    selector.close()
} catch {
    // Say what failed (on standard error) and exit 1: an error thrown out here would crash.
    let line = "selector-basics: \(error)\n"
    _ = write(2, line, line.utf8.count)
    exit(1)
}
