import CSelectors
import Selectors
import Testing

@Test func smoke() throws {
    let s = try DefaultSelector()
    var fds: [Int32] = [0, 0]
    socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds)
    try s.register(fds[0], events: .read) { _, _ in }
    _ = write(fds[1], "x", 1)
    let ready = Array(try s.select(timeout: .seconds(1)))
    #expect(ready.count == 1)
}
