import Selectors
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `EventLoopGroup.shutdown()` called from two of its loops at once (a SIGTERM handler
/// registered on every loop runs on all of them together): neither may wait for the other's
/// thread, whose iteration would never end. In a child process: if it deadlocks, only the child
/// hangs, and the exit test's status says so; and loops that end on their own threads there
/// cannot disturb the descriptors of tests running beside it.
@Suite struct GroupShutdownFromTwoLoopsTests {
    @Test func twoLoopsShuttingTheGroupDownAtOnceBothReturn() async {
        await #expect(processExitsWith: .success) {
            let group = try EventLoopGroup(threads: 2, name: "group-two-shutdowns")
            let arrived = Atomic<Int>(0)
            let returned = Atomic<Int>(0)
            for loop in group.loops {
                try loop.execute { [group] in
                    arrived.wrappingAdd(1, ordering: .sequentiallyConsistent)
                    // Both handlers are running before either shuts down (bounded).
                    let deadline = LoopInstant.now.advanced(by: .seconds(2))
                    while arrived.load(ordering: .sequentiallyConsistent) < 2 && LoopInstant.now < deadline {}
                    group.shutdown()
                    returned.wrappingAdd(1, ordering: .sequentiallyConsistent)
                }
            }
            let deadline = LoopInstant.now.advanced(by: .seconds(5))
            while returned.load(ordering: .sequentiallyConsistent) < 2 && LoopInstant.now < deadline {
                usleep(1000)
            }
            // Deadlocked: leave without joining (exit status 3 says which).
            if returned.load(ordering: .sequentiallyConsistent) < 2 { exit(3) }
            if (try? group.join()) == nil { exit(4) }
        }
    }
}
