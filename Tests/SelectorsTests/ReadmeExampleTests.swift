import CSelectors
import Selectors
import Synchronization
import Testing

/// The README's translation of the Python docs' callback echo server, run against a real
/// client, so the example stays correct. Keep the two in step: only the port (0 instead of
/// 1234), the prints and the bounded loop differ.
@Suite struct ReadmeExampleTests {
    @Test(arguments: Backend.available)
    func pythonDocsCallbackEchoServerEchoes(backend: Backend) throws {
        let selector = try Selector(backend: backend)
        defer { selector.close() }
        let echoed = Mutex(0)

        func read(_ connection: Int32, _ events: Events) {
            var buffer = [UInt8](repeating: 0, count: 1000)
            let count =
                (try? buffer.withUnsafeMutableBytes { bytes in try Socket.read(connection, into: bytes) })
                ?? 0
            if count > 0 {
                echoed.withLock { $0 += count }
                _ = try? buffer.withUnsafeBytes { bytes in
                    try Socket.write(connection, from: .init(rebasing: bytes[..<count]))
                }
            } else {  // end of file or an error
                _ = try? selector.unregister(connection)
                Socket.close(connection)
            }
        }

        func accept(_ listener: Int32, _ events: Events) {
            guard let connection = try? Socket.accept(listener) else { return }
            _ = try? selector.register(connection, events: .read, handler: read)
        }

        let listener = try Socket.makeListener(
            address: SocketAddress(host: "127.0.0.1", port: 0), backlog: 100)
        defer { Socket.close(listener.fd) }
        try selector.register(listener.fd, events: .read, handler: accept)

        // The client: a blocking socket on this thread, driven between loop iterations.
        let client = try Socket.connect(to: listener.address).fd
        defer { Socket.close(client) }
        let message = Array("hello, selectors".utf8)
        _ = try message.withUnsafeBytes { try Socket.write(client, from: $0) }

        var reply: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 64)
        for _ in 0..<200 where reply.count < message.count {
            for (key, events) in try selector.select(timeout: .milliseconds(50)) {
                key.handler(key.fd, events)
            }
            var pending = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            if poll(&pending, 1, 0) > 0 {
                let count = try scratch.withUnsafeMutableBytes { try Socket.read(client, into: $0) } ?? 0
                reply += scratch[..<count]
            }
        }
        #expect(reply == message)
        #expect(echoed.withLock { $0 } == message.count)

        // The client leaves; the server's read sees EOF and unregisters the connection.
        try Socket.shutdownWrite(client)
        for _ in 0..<200 where selector.count > 1 {
            for (key, events) in try selector.select(timeout: .milliseconds(50)) {
                key.handler(key.fd, events)
            }
        }
        #expect(selector.count == 1)
    }
}
