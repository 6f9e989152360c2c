import CSelectors
import Selectors
import Testing

/// The descriptors beyond TCP under every backend: a pipe, a Unix-domain listener and
/// connection, and a UDP socket each report readiness, and the helpers read what is ready.
@Suite struct DescriptorReadinessTests {
    @Test(arguments: Backend.available)
    func pipeUnixAndUDPDescriptorsReportReadinessAndTheHelpersReadIt(backend: Backend) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            defer { selector.close() }
            let (pipeRead, pipeWrite) = try Descriptor.makePipe()
            fds.adopt(pipeRead)
            fds.adopt(pipeWrite)
            let (listener, unixAddress) = try Socket.makeListener(
                address: try directory.socketAddress("ready.sock"))
            fds.adopt(listener)
            let (udp, udpAddress) = try Socket.makeDatagramSocket(address: .ipv4Loopback(port: 0))
            fds.adopt(udp)
            let (sender, _) = try Socket.makeDatagramSocket(address: .ipv4Loopback(port: 0))
            fds.adopt(sender)
            for fd in [pipeRead, listener, udp] {
                try selector.register(fd, events: .read, handler: ignoreEvents)
            }
            #expect(try selector.readyEntries(timeout: .zero) == [])

            #expect(try descriptorWrite(pipeWrite, [1]) == 1)
            let (client, _) = try Socket.connect(to: unixAddress)
            fds.adopt(client)
            let sent = try [UInt8(2)].withUnsafeBytes {
                try Socket.sendDatagram(sender, from: $0, to: udpAddress)
            }
            #expect(sent == 1)

            // Loopback delivery is immediate, but gather over a few waits all the same.
            var ready: Set<Int32> = []
            for _ in 0..<50 where ready.count < 3 {
                for entry in try selector.readyEntries(timeout: .milliseconds(100)) {
                    #expect(entry.events == .read)
                    ready.insert(entry.fd)
                }
            }
            #expect(ready == [pipeRead, listener, udp])

            #expect(try descriptorRead(pipeRead) == [1])
            fds.adopt(try #require(try Socket.accept(listener)))
            var buffer = [UInt8](repeating: 0, count: 16)
            let datagram = try buffer.withUnsafeMutableBytes { try Socket.receiveDatagram(udp, into: $0) }
            #expect(datagram?.count == 1 && buffer[0] == 2)
            #expect(try selector.readyEntries(timeout: .zero) == [], "everything ready was consumed")
            for fd in [pipeRead, listener, udp] { try selector.unregister(fd) }
        }
    }
}
