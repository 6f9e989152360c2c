#if os(Linux)
    import Selectors

    // ───────────────────────────────────────────────────────────────────────────────────────
    // PLUG-IN POINT for the framework's echo server.
    //
    // When the EchoService library exists, add it to this target's dependencies in
    // Package.swift and return an `EchoTarget` here that starts an `EchoServer` on `backend`
    // on its own thread (an ephemeral port on 127.0.0.1 is best: `start()` returns the bound
    // address) and stops it in `stop()`. Name it `echo-<backend>` so tables read well.
    // Everything else (running it through every scenario, the "vs raw" ratios, the fd budget
    // for idle connections, which counts two descriptors per connection for it) already
    // handles framework targets; `BenchCommand.plannedTargets` calls this once per backend
    // chosen with `--backend`.
    //
    // Note for the select backend: it cannot watch fds >= FD_SETSIZE (1024), and client and
    // server ends share this process's fd numbers, so idle levels above ~500 fail there by
    // design (the --quick levels, 0/100/400, stay below). Cap them in the target or expect
    // the errors to say so.
    // ───────────────────────────────────────────────────────────────────────────────────────

    /// The framework's echo server on `backend`, or `nil` while it is not built in yet.
    func makeFrameworkTarget(backend: Backend) -> (any EchoTarget)? {
        nil
    }
#endif
