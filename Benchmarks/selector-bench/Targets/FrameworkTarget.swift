#if os(Linux)
    import EchoService
    import Selectors

    /// The project's own `EchoServer` on one backend, started in this process on its own
    /// loop thread, on an ephemeral port of 127.0.0.1.
    final class FrameworkEchoTarget: EchoTarget {
        let backend: Backend
        private var server: RunningEchoServer?

        init(backend: Backend) { self.backend = backend }

        var name: String { "echo-\(backend)" }

        /// select(2) cannot watch fds at or above FD_SETSIZE, and the client's and the
        /// server's ends share this process's fd numbers, so idle levels stop below it.
        var descriptorCeiling: Int? { backend == .select ? 1024 : nil }

        func start() throws -> SocketAddress {
            var configuration = EchoServer.Configuration()
            configuration.port = 0
            configuration.backend = backend
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
