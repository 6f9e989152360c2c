import EchoService
import Selectors
import Testing

/// Guards against the idle timeout's millisecond arithmetic trapping on a huge (but valid)
/// `Configuration.idleTimeout`: the server must start and echo as if it were "never".
@Suite struct HugeIdleTimeoutTests {
    @Test(arguments: Backend.available)
    func aHugeIdleTimeoutStartsAndServes(backend: Backend) throws {
        let server = try startServer(backend) { $0.idleTimeout = .seconds(Int64.max) }
        defer { server.stop() }
        let fd = try Client.connect(server.address)
        defer { Socket.close(fd) }
        let message: [UInt8] = Array("still echoing".utf8)
        try message.withUnsafeBytes { try Client.exchange(fd, $0) }
        #expect(server.statistics.idleClosed == 0)
    }
}
