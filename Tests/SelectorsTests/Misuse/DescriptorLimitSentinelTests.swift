import CSelectors
import Selectors
import Testing

/// A backend with no fd limit reports `descriptorLimit` nil (its kernel's `Int32.max`): fd
/// `Int32.max` is refused for the fd table's reason, as `Int32.max - 1` is, not as "not below
/// FD_SETSIZE", whose text advises the epoll user to use epoll.
@Suite struct DescriptorLimitSentinelTests {
    @Test(arguments: Backend.available.filter { $0.capabilities.descriptorLimit == nil })
    func theLargestFdIsRefusedForTheSameReasonAsItsNeighbour(backend: Backend) throws {
        let selector = try Selector(backend: backend)
        #expect(selector.descriptorLimit == nil)
        let neighbour = selectorError {
            try selector.register(Int32.max - 1, events: .read, handler: ignoreEvents)
        }
        let largest = selectorError { try selector.register(Int32.max, events: .read, handler: ignoreEvents) }
        #expect(largest?.operation == .register && largest?.fd == Int32.max)
        guard case .descriptorBeyondTable = neighbour?.reason else {
            Issue.record("neighbour: \(String(describing: neighbour))")
            return
        }
        if case .descriptorTooLarge = largest?.reason {
            Issue.record("\(backend): \(String(describing: largest)) names FD_SETSIZE and the select backend")
        }
    }
}
