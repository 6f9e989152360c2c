import Testing

/// Runs each test of a suite at high priority, and with it every task the test makes.
///
/// Why: most of this package's tests are synchronous, and Swift Testing runs a synchronous
/// test on a thread of Swift's cooperative pool for as long as the test takes (seconds, under
/// ThreadSanitizer). On a two-core machine that pool has two threads, and hundreds of such
/// tests queue for them. An async test's every resumption queued behind them too, so its
/// 30-second deadlines ran out while it waited for a thread rather than for the code under
/// test. On Linux each priority has threads of its own, so a job of a high-priority task never
/// waits behind the default-priority tests.
///
/// Those threads are as many as the cores, for each priority (measured here, 2026-12-07: with
/// both default-priority threads asleep a high-priority task ran at once; with both
/// high-priority threads asleep it waited for one of them). So a test under this trait must not
/// block its thread for long (a lock held elsewhere, a `sleep`): two such tests would stop
/// every other one under the trait, which is how a blocking wait for the reserved descriptor
/// numbers once deadlocked the suite (`FixedDescriptorNumbers` suspends instead).
///
/// The test runs in a child task made with `.high` (so that the tasks it makes inherit that)
/// and escalated to it (`UnsafeCurrentTask.escalatePriority`): without the escalation such a
/// child's first job runs at high priority but every later one at the priority its parent
/// had, so each await sent it back to the queue.
struct AheadOfBlockingTests: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        // The child ends before the group does, so `function` never outlives this call.
        try await withoutActuallyEscaping(function) { function in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask(priority: .high) {
                    withUnsafeCurrentTask { $0?.escalatePriority(to: .high) }
                    try await function()
                }
                try await group.waitForAll()
            }
        }
    }
}

extension Trait where Self == AheadOfBlockingTests {
    /// See `AheadOfBlockingTests`.
    static var aheadOfBlockingTests: Self { Self() }
}

/// The trait does what the async suites rely on: their tests, and the tasks those make, run
/// at high priority.
@Suite(.aheadOfBlockingTests)
struct AheadOfBlockingTestsTests {
    @Test(arguments: [1, 2])
    func testsAndTheTasksTheyMakeRunAtHighPriority(argument: Int) async {
        #expect(Task.currentPriority == .high)
        // The base priority is the one a task was made with (awaiting it escalates the rest).
        #expect(await Task { Task.basePriority }.value == .high)
    }
}

/// The escalation stays with the test case: a synchronous test elsewhere keeps its default
/// priority, so it never takes the threads the async tests use.
@Suite
struct DefaultPriorityTests {
    @Test(arguments: [1, 2])
    func aTestWithoutTheTraitRunsAtTheDefaultPriority(argument: Int) {
        #expect(Task.currentPriority < .high)
    }
}
