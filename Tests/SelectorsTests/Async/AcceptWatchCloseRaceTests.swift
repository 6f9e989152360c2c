import CSelectors
import Synchronization
import Testing

@testable import Selectors

#if canImport(Glibc)
    import Glibc  // dlsym
#endif

/// `listener.close()` racing with the first `next()` of
/// `listener.connections(on:)` started off the loop. If `close()` sees the watch (added by
/// `next()`) and its `stop` job runs on the loop before `next()`'s hop to the loop, `stop`
/// finds no close observer to remove; `watchLoopClose` then registers one anyway, holding the
/// watch `unowned(unsafe)`. The sequence ends (nil), the watch is freed, and the observer stays
/// in the loop's table: when the loop closes it calls `stop()` on freed memory (SIGSEGV).
@Suite(
    .timeLimit(.minutes(5)),
    .disabled(
        if: runsUnderThreadSanitizer,
        "its tight spins, on two cores under ThreadSanitizer, starved other suites past their limits"))
struct AcceptWatchCloseRaceTests {
    final class Probe: ListenerWatch, @unchecked Sendable { func stop() {} }
    final class Filler {
        var a = Int.max, b = Int.max, c = Int.max, d = Int.max, e = Int.max
    }
    final class Flag: Sendable { let value = Atomic<Bool>(false) }

    /// Races `close()` with the first `next()` `rounds` times on one loop; returns how many
    /// close observers are left on the loop afterwards (each one of a freed watch).
    static func race(_ loop: EventLoop, rounds: Int) async throws -> Int {
        let probe = Probe()
        for _ in 0..<rounds {
            let listener = try Listener(address: .ipv4Loopback(port: 0))
            let started = Flag()
            let closer = Task.detached {
                // Tight spins, to hit the window, but bounded.
                let deadline = ContinuousClock.now.advanced(by: .seconds(2))
                while !started.value.load(ordering: .acquiring) && ContinuousClock.now < deadline {}
                // Close as soon as the watch is on the listener's list.
                while !listener.hasOtherWatcher(on: loop, than: probe) && ContinuousClock.now < deadline {}
                listener.close()
            }
            let accepting = Task.detached { () -> Bool in
                var iterator = listener.connections(on: loop).makeAsyncIterator()
                started.value.store(true, ordering: .releasing)
                return try await iterator.next() == nil
            }
            #expect(try await accepting.value)
            await closer.value
        }
        return try await onLoopThread(loop) { $0.eventLoop.closeObservers.count }
    }

    /// The observable symptom, in the test process: observers of freed watches stay behind.
    @Test func closeRacingWithTheFirstNextLeavesNoCloseObserverBehind() async throws {
        let thread = try EventLoopThread(name: "accept-race")
        let left = try await Self.race(thread.loop, rounds: 300)
        #expect(left == 0, "\(left) close observers of freed accept watches are left on the loop")
        // Shutting this loop down would run them on freed memory: leave it running (leaked).
        if left == 0 { thread.shutdown() }
    }

    /// The consequence: closing the loop calls `stop()` on the freed watches (SIGSEGV, or
    /// worse, silently writes into whatever reuses the memory).
    @Test func closingTheLoopAfterTheRaceDoesNotCrash() async {
        await #expect(processExitsWith: .success) {
            let thread = try EventLoopThread(name: "accept-race-x")
            _ = try await AcceptWatchCloseRaceTests.race(thread.loop, rounds: 300)
            // Reuse the freed watches' memory, as any program would go on allocating.
            let filler = (0..<100_000).map { _ in Filler() }
            thread.shutdown()
            withExtendedLifetime(filler) {}
        }
    }
}

/// Whether ThreadSanitizer instruments this process: its runtime defines `__tsan_init`.
let runsUnderThreadSanitizer: Bool = {
    #if canImport(Glibc)
        return dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil
    #else
        return false
    #endif
}()
