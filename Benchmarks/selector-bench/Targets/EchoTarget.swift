#if os(Linux)
    import Selectors

    /// An echo server the benchmark can load: started before the scenarios, stopped after.
    ///
    /// The raw baseline, an external server, and (`FrameworkTarget.swift`)
    /// the framework's `EchoServer` on each backend all look the same to the scenarios.
    protocol EchoTarget: AnyObject {
        /// A short label for tables and JSON, for example `raw-epoll` or `echo-epoll`.
        var name: String { get }
        /// Starts serving (if the target is in this process) and returns where to connect.
        func start() throws -> SocketAddress
        /// Stops serving and releases every descriptor; called once, after the last scenario.
        func stop()
        /// The first fd number the server cannot watch, when it has one (select's FD_SETSIZE).
        var descriptorCeiling: Int? { get }
    }

    extension EchoTarget {
        var descriptorCeiling: Int? { nil }
    }

    /// How a target takes part in the comparison.
    enum TargetRole: String, Sendable {
        /// The raw epoll loop: what the framework is measured against.
        case baseline
        /// The framework's echo server on one backend.
        case framework
        /// A server outside this process (`--target`); it holds no descriptors here.
        case external

        /// Descriptors one connection costs this process: both ends when the server is in-process.
        var descriptorsPerConnection: Int { self == .external ? 1 : 2 }
    }

    /// A target with its role, as the run loop sees it.
    struct PlannedTarget {
        let target: any EchoTarget
        let role: TargetRole
    }
#endif
