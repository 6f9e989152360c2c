import Testing

@testable import Selectors

/// `AsyncConnection.adopt(_:on:)` uses the loop's standard pool, made on first use. Asked for
/// on a closed loop (a hop that reached the loop's thread just after it closed), the pool was
/// made and kept by the loop, whose close had already dropped the last one: the loop and the
/// pool then held each other, and neither was ever freed.
@Suite struct StandardPoolOfAClosedLoopTests {
    @Test(arguments: Backend.available)
    func aClosedLoopKeepsNoStandardPoolAndIsFreed(backend: Backend) throws {
        weak var released: EventLoop?
        try withDescriptors { fds in
            let (fd, _) = try fds.socketPair()
            let loop = try EventLoop(backend: backend)
            released = loop
            let io = loop.assumeIsolated()
            io.close()
            let pool = try AsyncConnections.standard(on: io)
            #expect(loop.standardAsyncConnections == nil)
            #expect(throws: SelectorError(.adopt, fd: fd, .loopClosed)) { try pool.adopt(fd, on: io) }
        }
        #expect(released == nil, "the closed loop was never freed")
    }
}
