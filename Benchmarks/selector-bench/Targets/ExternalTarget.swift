#if os(Linux)
    import Selectors

    /// A server that is already running elsewhere (`--target host:port`), for example
    /// `echo-server` in another process or another implementation to compare with.
    final class ExternalTarget: EchoTarget {
        let address: SocketAddress
        var name: String { "external \(address)" }

        init(address: SocketAddress) { self.address = address }

        /// `host` is numeric (or `localhost`); see `SocketAddress(host:port:)`.
        convenience init(host: String, port: UInt16) throws(Errno) {
            self.init(address: try SocketAddress(host: host, port: port))
        }

        /// Nothing to start: the address is where the server already listens.
        func start() throws -> SocketAddress { address }

        /// Nothing to stop: the server is not ours.
        func stop() {}
    }
#endif
