import CSelectors
import Synchronization
import Testing

@testable import Selectors

/// `EventLoop.readable` documents: the fd "is registered with the loop the first time a task
/// waits on it and stays registered ... until `IsolatedEventLoop.unregister(fd)` (call it
/// before you close the fd)". Portable code that does so must not fail on some backends: on
/// poll and select the waiters drop the registration as soon as nobody waits, so that
/// `unregister` throws `notRegistered`.
@Suite(.timeLimit(.minutes(5)), .aheadOfBlockingTests)
struct UnregisterAfterWaitTests {
    @Test(arguments: Backend.available)
    func unregisterAfterACompletedWaitSucceedsOnEveryBackend(backend: Backend) async throws {
        try await withLoopAndSocketPair(backend) { thread, ours, peer in
            let loop = thread.loop
            try writeAll(peer, "x")
            try await within(.seconds(10), on: loop) { try await loop.readable(ours) }
            let result = try await onLoopThread(loop) { io in
                Result { () throws(SelectorError) in _ = try io.unregister(ours) }
            }
            #expect(throws: Never.self, "\(backend)") { try result.get() }
        }
    }
}
