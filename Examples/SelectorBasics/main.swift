import Selectors

// Watch standard input and say when it is ready: `echo hello | swift run selector-basics`.
// (epoll refuses regular files with EPERM; a pipe or a terminal works everywhere.)
let selector = try DefaultSelector()  // epoll on Linux, kqueue on macOS
try selector.register(0, events: .read) { fd, events in
    print("fd \(fd) is ready for \(events)")
}
for (key, events) in try selector.select(timeout: .seconds(5)) {
    key.handler(key.fd, events)
}
selector.close()
