import CSelectors
import Selectors
import Synchronization
import Testing

/// `EventLoopThread`: a loop created on, and run by, a named thread of its own; `setUp` runs
/// there first and its error comes out of `init`; `execute` from anywhere runs there;
/// `shutdown` stops and joins; afterwards the loop is closed.
@Suite struct EventLoopThreadTests {
    @Test(arguments: Backend.available)
    func theLoopRunsOnANamedThreadOfItsOwn(backend: Backend) throws {
        let name = uniqueThreadName("elt-name-")
        let thread = try EventLoopThread(name: name, backend: backend)
        #expect(thread.name == name)
        #expect(thread.isRunning)
        #expect(!thread.isCurrent)
        #expect(!thread.loop.isOnLoopThread)
        #expect(thread.loop.backend == backend)
        let seen = try onLoop(thread.loop) {
            (currentThreadName(), thread.isCurrent, thread.loop.isOnLoopThread)
        }
        #expect(seen?.1 == true)
        #expect(seen?.2 == true)
        if procShowsThreads {
            #expect(seen?.0 == name)
            #expect(processThreadNames().contains(name), "listed in /proc/self/task/*/comm")
        }
        thread.shutdown()
        #expect(!thread.isRunning)
        #expect(thread.loop.isClosed)
        #expect(thread.runFailure == nil)
        // Joined, so the thread is gone; /proc may list it a moment longer (see
        // `aSetUpErrorIsThrownByInitAndNoThreadIsLeft`).
        if procShowsThreads {
            eventually(within: .seconds(2)) { !processThreadNames().contains(name) }
        }
    }

    @Test func aLongNameIsCutToWhatTheKernelKeeps() throws {
        let name = uniqueThreadName("elt-") + "-and-a-rather-long-tail"
        let thread = try EventLoopThread(name: name)
        defer { thread.shutdown() }
        #expect(thread.name == name, "kept whole on the Swift side")
        if procShowsThreads {
            let seen = try onLoop(thread.loop) { currentThreadName() }
            #expect(seen == String(name.utf8.prefix(15))!)
        }
    }

    @Test(arguments: Backend.available)
    func setUpRunsOnTheLoopThreadBeforeInitReturnsAndItsRegistrationsWork(backend: Backend) throws {
        let (reader, writer) = try closeOnExecPipe()
        defer {
            _ = close(reader)
            _ = close(writer)
        }
        let name = uniqueThreadName("elt-setup-")
        let setUpThread = Shared<String?>(nil)
        let setUpDone = SharedFlag()
        let handled = Shared<[String?]>([])
        let thread = try EventLoopThread(name: name, backend: backend) { io in
            setUpThread.withLock { $0 = currentThreadName() ?? "no /proc" }
            try io.register(reader, events: .read) { fd, _ in
                var byte: UInt8 = 0
                _ = read(fd, &byte, 1)
                handled.withLock { $0.append(currentThreadName()) }
            }
            setUpDone.set()
        }
        defer { thread.shutdown() }
        #expect(setUpDone.isSet, "init returned after setUp finished")
        if procShowsThreads { #expect(setUpThread.value == name) }
        var byte: UInt8 = 1
        _ = write(writer, &byte, 1)
        eventually { handled.value.count == 1 }
        if procShowsThreads { #expect(handled.value == [name]) }
        // The handler captured the loop; unregistering on its thread breaks the cycle.
        _ = try onLoop(thread.loop) { _ = try? thread.loop.assumeIsolated().unregister(reader) }
    }

    @Test(arguments: Backend.available)
    func aSetUpErrorIsThrownByInitAndNoThreadIsLeft(backend: Backend) throws {
        let name = uniqueThreadName("elt-fail-")
        #expect(throws: SetUpFailure(code: 7)) {
            _ = try EventLoopThread(name: name, backend: backend) { _ in throw SetUpFailure(code: 7) }
        }
        // Joined before init threw, so the thread is gone; /proc may still list a joined
        // thread for a moment (the kernel wakes the joiner before it drops the task), which
        // an AddressSanitizer run caught, hence a short wait rather than a single look.
        if procShowsThreads {
            eventually(within: .seconds(2)) { !processThreadNames().contains(name) }
        }
    }

    /// Counted in a child process, where no other test opens descriptors meanwhile: a failed
    /// `setUp` leaves no descriptor open, not even when it registered a handler that captures
    /// the loop (which makes a cycle only `close` breaks) before it failed. Ten attempts after
    /// a first one, so a leak (one or two descriptors each) stands out from the test
    /// machinery's own descriptor or two.
    @Test(arguments: [false, true])
    func aSetUpErrorLeavesNoDescriptorOpen(registersAHandlerFirst: Bool) async {
        await #expect(processExitsWith: .success) { [registersAHandlerFirst] in
            guard let (reader, writer) = try? closeOnExecPipe() else { exit(10) }
            func attempt() {
                do {
                    _ = try EventLoopThread(name: "setup-fails") { io in
                        if registersAHandlerFirst {
                            try io.register(reader, events: .read) { _, _ in _ = io.pendingTimers }
                        }
                        throw SetUpFailure(code: 1)
                    }
                    exit(11)
                } catch {
                    guard error as? SetUpFailure == SetUpFailure(code: 1) else { exit(12) }
                }
            }
            attempt()
            let before = procSelfDescriptorCount()
            for _ in 0..<10 { attempt() }
            let grown = procSelfDescriptorCount() - before
            _ = close(reader)
            _ = close(writer)
            exit(grown <= 2 ? 0 : 20 + Int32(clamping: grown))
        }
    }

    @Test(arguments: Backend.available)
    func executeFromOtherThreadsRunsEveryTaskOnTheLoopThread(backend: Backend) throws {
        let thread = try EventLoopThread(name: uniqueThreadName("elt-exec-"), backend: backend)
        defer { thread.shutdown() }
        let submitters = 4
        let perSubmitter = 2_000
        let ran = SharedCounter()
        let offThread = SharedCounter()
        let loop = thread.loop
        withThreads(submitters) { _ in
            for _ in 0..<perSubmitter {
                try? loop.execute {
                    if !loop.isOnLoopThread { offThread.increment() }
                    ran.increment()
                }
            }
        } whileRunning: {
        }
        eventually { ran.value == submitters * perSubmitter }
        #expect(offThread.value == 0)
    }

    @Test(arguments: Backend.available)
    func shutdownJoinsTheThreadAndLaterExecuteThrowsLoopClosed(backend: Backend) throws {
        let thread = try EventLoopThread(name: uniqueThreadName("elt-down-"), backend: backend)
        let loop = thread.loop
        let ranAfterStop = SharedCounter()
        thread.shutdown()
        #expect(!thread.isRunning)
        #expect(loop.isClosed)
        #expect(throws: SelectorError(.execute, fd: nil, .loopClosed)) {
            try loop.execute { ranAfterStop.increment() }
        }
        let timer = loop.schedule(after: .zero) { ranAfterStop.increment() }
        #expect(!timer.isActive, "a timer on a closed loop is inactive at once")
        thread.shutdown()
        try thread.join()
        #expect(ranAfterStop.value == 0)
    }

    /// A joined thread's `pthread_t` is handed to the next thread created (glibc reuses the
    /// descriptor and its stack), so after the join "is this the loop's thread?" cannot be
    /// answered by comparing with it. Joining again, from threads created afterwards, must
    /// not take them for the loop's own thread (it trapped, and would now throw). In a child
    /// process: a trap would end the whole test run.
    @Test func joinAndIsCurrentAfterTheThreadEndedWorkFromThreadsCreatedLater() async {
        await #expect(processExitsWith: .success) {
            guard let thread = try? EventLoopThread(name: "joined-early") else { exit(10) }
            thread.shutdown()
            let wrong = SharedCounter()
            for _ in 0..<4 {
                withThreads(3) { _ in
                    if thread.isCurrent { wrong.increment() }
                    thread.shutdown()
                    if (try? thread.join()) == nil { wrong.increment() }
                } whileRunning: {
                    if (try? thread.join()) == nil { wrong.increment() }
                }
            }
            exit(wrong.value == 0 ? 0 : 11)
        }
    }

    /// `execute` did not throw, so the task runs: also when the loop was asked to stop
    /// before it got to the task (here, while its thread waits at a gate), and when the stop
    /// came before the loop ever ran.
    @Test(arguments: Backend.available)
    func everyTaskExecuteAcceptedRunsBeforeTheLoopCloses(backend: Backend) throws {
        let ran = SharedCounter()
        let thread = try EventLoopThread(name: uniqueThreadName("elt-late-"), backend: backend)
        let gate = try Gate()
        try gate.block(thread.loop)
        thread.stop()
        try thread.loop.execute { ran.increment() }
        gate.open()
        try thread.join()
        #expect(ran.value == 1)

        let early = try EventLoopThread(name: uniqueThreadName("elt-early-"), backend: backend)
        early.stop()
        // Refused only if the thread closed its loop already; accepted, it must run.
        let accepted = (try? early.loop.execute { ran.increment() }) != nil
        try early.join()
        #expect(ran.value == (accepted ? 2 : 1))
    }

    @Test func aTaskThatStopsTheLoopEndsTheThreadByItself() throws {
        let thread = try EventLoopThread(name: uniqueThreadName("elt-stop-"))
        try thread.loop.execute { thread.loop.stop() }
        eventually { !thread.isRunning }
        try thread.join()
        #expect(thread.loop.isClosed)
    }

    /// `shutdown()` from the loop's own thread (a task asked to quit) cannot wait for itself:
    /// it stops the loop and returns, the thread ends by itself, and a join elsewhere waits.
    @Test func shutdownFromTheLoopsOwnThreadStopsItAndReturns() throws {
        let thread = try EventLoopThread(name: uniqueThreadName("elt-self-shutdown-"))
        let returned = SharedCounter()
        try thread.loop.execute {
            thread.shutdown()
            returned.increment()
        }
        eventually { !thread.isRunning }
        try thread.join()
        #expect(returned.value == 1)
        #expect(thread.loop.isClosed)
    }

    @Test func aSetUpThatClosesItsLoopEndsTheThreadWithARunFailure() throws {
        let thread = try EventLoopThread(name: uniqueThreadName("elt-closed-")) { io in io.close() }
        try thread.join()
        #expect(!thread.isRunning)
        #expect(thread.runFailure == SelectorError(.run, fd: nil, .loopClosed))
    }

    @Test func droppingTheLastReferenceStopsTheLoopAndWaitsForTheThread() throws {
        var thread: EventLoopThread? = try EventLoopThread(name: uniqueThreadName("elt-drop-"))
        let loop = try #require(thread?.loop)
        #expect(!loop.isClosed)
        thread = nil
        #expect(loop.isClosed, "deinit stopped the loop and joined its thread")
    }

    /// The last reference may go on the loop's own thread (a task that held it): deinit
    /// cannot join itself there, so the thread ends on its own.
    @Test func theLastReferenceReleasedOnItsOwnThreadDoesNotDeadlock() throws {
        let holder = Shared<EventLoopThread?>(try EventLoopThread(name: uniqueThreadName("elt-self-")))
        let loop = try #require(holder.value?.loop)
        try loop.execute {
            let last = holder.withLock { held in
                defer { held = nil }
                return held
            }
            _ = last  // released here, on the loop thread
        }
        eventually { loop.isClosed }
    }
}
