#if os(Linux)
    import EchoService
    import Selectors

    /// The project's own `EchoServer` on one backend, trigger mode and API, started in this
    /// process on its own loop thread, on an ephemeral port of 127.0.0.1.
    final class FrameworkEchoTarget: EchoTarget {
        let backend: Backend
        let trigger: Trigger
        let api: EchoServer.API
        private var server: RunningEchoServer?

        init(backend: Backend, trigger: Trigger = .level, api: EchoServer.API = .callbacks) {
            self.backend = backend
            self.trigger = trigger
            self.api = api
        }

        /// `echo-epoll` for level callbacks (the name runs have always had), with `-edge` for
        /// edge and `-async` for a task per connection: `echo-epoll-edge`, `echo-epoll-async`.
        var name: String {
            "echo-\(backend)" + (trigger == .level ? "" : "-\(trigger)")
                + (api == .callbacks ? "" : "-\(api)")
        }

        /// Where the backend stops (select on platforms that keep it below FD_SETSIZE). The
        /// client's and the server's ends share this process's fd numbers, so idle levels stop
        /// below it.
        var descriptorCeiling: Int? { backend.capabilities.descriptorLimit.map(Int.init) }

        func start() throws -> SocketAddress {
            var configuration = EchoServer.Configuration()
            configuration.port = 0
            configuration.backend = backend
            configuration.trigger = trigger
            configuration.api = api
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
