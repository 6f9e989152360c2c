import CSelectors
import Selectors
import Testing

/// The loop's shared read buffer: its size, and that a handler can fill all of it.
@Suite struct EventLoopReadBufferTests {
    @Test(arguments: Backend.available)
    func theReadBufferHolds64KiBAndIsUsableFromAHandler(backend: Backend) throws {
        let loop = try EventLoop(backend: backend).assumeIsolated()
        defer { loop.close() }
        #expect(loop.readBuffer.count == 64 * 1024)
        try withDescriptors { fds in
            let (reader, writer) = try fds.socketPair()
            let size = 64 * 1024
            let sent = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
            var written = 0
            var received: [UInt8] = []
            var handlerFailures: [String] = []
            try loop.register(reader, events: .read) { fd, _ in
                let buffer = loop.readBuffer
                // The whole buffer is writable, up to its last byte.
                buffer.initializeMemory(as: UInt8.self, repeating: 0xEE)
                let count = read(fd, buffer.baseAddress, buffer.count)
                if count > 0 {
                    received.append(contentsOf: buffer[..<count])
                } else if count == 0 || cselectors_errno() != EAGAIN {
                    handlerFailures.append("read returned \(count), errno \(cselectors_errno())")
                }
            }
            // Fed in slices, as the socket buffer takes them; the reader drains into the
            // loop's buffer meanwhile.
            try runOnceUntil(loop) {
                if written < size {
                    let end = min(size, written + 16 * 1024)
                    let accepted = sent[written..<end].withUnsafeBytes {
                        write(writer, $0.baseAddress, $0.count)
                    }
                    if accepted > 0 { written += accepted }
                }
                return received.count >= size || !handlerFailures.isEmpty
            }
            #expect(handlerFailures.isEmpty, "\(handlerFailures)")
            #expect(received == sent)
            try loop.unregister(reader)
        }
    }
}
