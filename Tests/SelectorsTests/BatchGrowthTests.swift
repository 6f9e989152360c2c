import CSelectors
import Selectors
import Testing

/// Guards against a registration made by a handler mid-batch (an accept, say) growing the
/// ready buffer and silently ending the batch being dispatched.
@Suite struct BatchGrowthTests {
    @Test(arguments: Backend.available)
    func registeringManyFdsFromAHandlerKeepsTheRestOfTheBatch(backend: Backend) throws {
        let selector = try Selector(backend: backend)
        defer { selector.close() }
        var pairs: [[Int32]] = []
        defer { for fd in pairs.joined() { close(fd) } }
        for _ in 0..<2 {
            var fds: [Int32] = [-1, -1]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            pairs.append(fds)
            var byte: UInt8 = 7
            #expect(write(fds[1], &byte, 1) == 1)
        }
        var ran: [Int32] = []
        var extraPipes: [Int32] = []
        defer { for fd in extraPipes { close(fd) } }
        let growTheTable: SelectorHandler = { fd, _ in
            ran.append(fd)
            guard extraPipes.isEmpty else { return }
            // More registrations than the ready buffer's initial 64 slots.
            for _ in 0..<100 {
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { return }
                extraPipes += ends
                _ = try? selector.register(ends[0], events: .read) { _, _ in }
            }
        }
        for fds in pairs { try selector.register(fds[0], events: .read, handler: growTheTable) }

        for (key, events) in try selector.select(timeout: .seconds(1)) { key.handler(key.fd, events) }

        #expect(Set(ran) == Set(pairs.map { $0[0] }), "both ready fds ran in the batch that grew the table")
        #expect(selector.count == 102)
    }
}
