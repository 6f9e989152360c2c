import CSelectors
import Selectors
import Testing

/// `onSignal` on a closed loop creates a signal pipe, fails to register it, closes it, and
/// throws the registration's error: `register(fd: N): the selector is closed`. The operation
/// named is not the one called, and N is an internal descriptor already closed (its number
/// may belong to another file by the time the caller reads the message). Every other
/// operation of a closed loop names itself (`execute`, `run`: `loopClosed`).
@Suite struct OnSignalOnAClosedLoopTests {
    @Test(arguments: Backend.available)
    func onSignalOnAClosedLoopNamesItselfAndNoDescriptor(backend: Backend) throws {
        let io = try EventLoop(backend: backend).assumeIsolated()
        io.close()
        do {
            try io.onSignal(SIGCONT) {}
            Issue.record("onSignal accepted on a closed loop")
        } catch {
            #expect(error == SelectorError(.onSignal, fd: nil, .loopClosed), "\(error)")
        }
    }
}
