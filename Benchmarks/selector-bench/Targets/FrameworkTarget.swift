#if os(Linux)
    import EchoService
    import Selectors

    /// The project's own `EchoServer` on one backend and trigger mode, started in this process
    /// on its own loop thread, on an ephemeral port of 127.0.0.1.
    final class FrameworkEchoTarget: EchoTarget {
        let backend: Backend
        let trigger: Trigger
        private var server: RunningEchoServer?

        init(backend: Backend, trigger: Trigger = .level) {
            self.backend = backend
            self.trigger = trigger
        }

        /// `echo-epoll` for level (the name runs have always had), `echo-epoll-edge` for edge.
        var name: String { trigger == .level ? "echo-\(backend)" : "echo-\(backend)-\(trigger)" }

        /// Where the backend stops (select on platforms that keep it below FD_SETSIZE). The
        /// client's and the server's ends share this process's fd numbers, so idle levels stop
        /// below it.
        var descriptorCeiling: Int? { backend.capabilities.descriptorLimit.map(Int.init) }

        func start() throws -> SocketAddress {
            var configuration = EchoServer.Configuration()
            configuration.port = 0
            configuration.backend = backend
            configuration.trigger = trigger
            let server = try EchoServer.start(configuration)
            self.server = server
            return server.address
        }

        func stop() {
            server?.stop()
            server = nil
        }
    }

#endif
