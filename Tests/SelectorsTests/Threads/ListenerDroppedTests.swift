import CSelectors
import Selectors
import Testing

/// A `Listener` owns its socket. One dropped without `close()` (an error path between making
/// it and serving: a group that failed to start, say) keeps the socket open and the port
/// bound for the rest of the process: the next `Listener` on that port fails with
/// `EADDRINUSE`.
@Suite(.timeLimit(.minutes(5)))
struct ListenerDroppedTests {
    @Test
    func aListenerDroppedWithoutCloseReleasesItsPort() throws {
        var port: UInt16 = 0
        do {
            let listener = try Listener(address: .ipv4Loopback(port: 0))
            port = listener.address.port
        }
        try #require(port != 0)
        let again = Result { () throws(Errno) in try Listener(address: .ipv4Loopback(port: port)) }
        #expect(throws: Never.self) { try again.get() }
        if case .success(let listener) = again { listener.close() }
    }
}
