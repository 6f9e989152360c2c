import Testing

@testable import Selectors

/// A budget outlives the `Connections` that share it (one per loop of a server, made and
/// dropped as loops come and go): each one's resume callback goes with it, rather than stay in
/// the budget for good, to be called at every resume.
@Suite(.timeLimit(.minutes(5)))
struct OutputBudgetCallbackTests {
    @Test func aConnectionsThatGoesTakesItsResumeCallbackWithIt() throws {
        let budget = try OutputBudget(high: 1024, low: 0)
        var options = Connections.Options()
        options.budget = budget
        let io = try EventLoop().assumeIsolated()
        defer { io.close() }
        for _ in 0..<3 {
            _ = try Connections(loop: io, options: options) { _, _ in }
        }
        #expect(budget.resumeCallbackCount == 0)
        let kept = try Connections(loop: io, options: options) { _, _ in }
        #expect(budget.resumeCallbackCount == 1)
        withExtendedLifetime(kept) {}
    }
}
