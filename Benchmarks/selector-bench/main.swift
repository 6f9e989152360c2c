// selector-bench: a loopback echo load generator, and the raw epoll baseline it compares
// the framework's echo server with. See `Options.usage` for the command line.
//
// The client drives its connections with edge-triggered epoll and the baseline server is
// written on epoll directly, so every other file of this target is Linux-only (whole-file
// `#if os(Linux)`); elsewhere the executable only explains that.
#if os(Linux)
    import CSelectors

    exit(BenchCommand.run(Array(CommandLine.arguments.dropFirst())))
#else
    print("selector-bench runs on Linux only (its client and raw baseline use epoll directly).")
#endif
