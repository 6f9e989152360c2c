#if os(Linux)
    import Selectors

    /// The idle scenario's silent connections, opened from the main thread and held while rr
    /// runs beside them, so the server has K registered connections that never become ready.
    final class IdleConnections {
        private let target: SocketAddress
        private var sources: SourceAddresses
        private var fds: [Int32] = []

        init(target: SocketAddress) {
            self.target = target
            sources = SourceAddresses(target: target, start: 101)
        }

        /// How many connections are held.
        var count: Int { fds.count }

        /// Opens connections until `count` are held; returns the failures.
        func grow(to count: Int, timeoutMilliseconds: Int32) -> ErrorCounts {
            var errors = ErrorCounts()
            var failures = 0
            while fds.count < count && failures < 100 {
                do {
                    fds.append(
                        try connectWithin(
                            target, source: sources.take(), timeoutMilliseconds: timeoutMilliseconds))
                } catch {
                    errors.record(error)
                    failures += 1
                }
            }
            return errors
        }

        /// Every held connection must still be open with nothing to read: a `read` must say
        /// "would block". End of stream means the server dropped it; data means it sent
        /// something unasked.
        func checkAlive() -> ErrorCounts {
            var errors = ErrorCounts()
            var byte: UInt8 = 0
            var survivors: [Int32] = []
            for fd in fds {
                let result: Int?
                do {
                    result = try withUnsafeMutableBytes(of: &byte) { (buffer) throws(Errno) in
                        try Socket.read(fd, into: buffer)
                    }
                } catch {
                    errors.record(error)
                    Socket.close(fd)
                    continue
                }
                switch result {
                case nil: survivors.append(fd)
                case 0?:
                    errors.short += 1
                    Socket.close(fd)
                default:
                    errors.mismatch += 1
                    Socket.close(fd)
                }
            }
            fds = survivors
            return errors
        }

        func closeAll() {
            for fd in fds { Socket.close(fd) }
            fds.removeAll()
        }
    }
#endif
