import Selectors
import Testing

/// Guards against `Duration.components` trapping on durations whose seconds overflow Int64:
/// a timeout that large must simply be clamped.
@Suite struct HugeTimeoutTests {
    @Test(arguments: Backend.available)
    func aDurationBeyondInt64SecondsIsClampedNotATrap(backend: Backend) throws {
        let selector = try Selector(backend: backend)
        defer { selector.close() }
        let enormous = Duration.seconds(Int64.max) + .seconds(Int64.max)
        let descriptors = OpenDescriptors()
        defer { descriptors.closeAll() }
        let writer = try descriptors.pipe().write
        try selector.register(writer, events: .write) { _, _ in }
        // The pipe is writable, so the clamped wait returns at once with it.
        #expect(Array(try selector.select(timeout: enormous)).count == 1)
        // And the negative extreme means "do not block".
        #expect(Array(try selector.select(timeout: .zero - enormous)).count == 1)
    }
}
