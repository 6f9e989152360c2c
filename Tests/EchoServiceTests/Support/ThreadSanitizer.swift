import Glibc

/// Whether ThreadSanitizer instruments this process: its runtime defines `__tsan_init`.
let runsUnderThreadSanitizer: Bool = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil
