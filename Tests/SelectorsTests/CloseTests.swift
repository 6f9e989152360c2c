import CSelectors
import Selectors
import Testing

@Suite struct CloseTests {
    @Test(arguments: Backend.available)
    func everyCallAfterCloseThrowsSelectorClosed(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            selector.close()
            #expect(selector.isClosed)
            expectSelectorError(.register, fd: right, .selectorClosed) {
                try selector.register(right, events: .read, handler: ignoreEvents)
            }
            expectSelectorError(.unregister, fd: left, .selectorClosed) { try selector.unregister(left) }
            expectSelectorError(.modify, fd: left, .selectorClosed) {
                try selector.modify(left, events: .write)
            }
            expectSelectorError(.select, fd: nil, .selectorClosed) { try selector.select(timeout: .zero) }
            expectSelectorError(.select, fd: nil, .selectorClosed) { try selector.select(timeout: nil) }
            expectSelectorError(.key, fd: left, .selectorClosed) { try selector.key(for: left) }
            expectSelectorError(.keys, fd: nil, .selectorClosed) { try selector.keys }
        }
    }

    @Test(arguments: Backend.available)
    func closingTwiceIsHarmless(backend: Backend) throws {
        let selector = try Selector(backend: backend)
        selector.close()
        selector.close()
        #expect(selector.isClosed)
        expectSelectorError(.select, fd: nil, .selectorClosed) { try selector.select(timeout: .zero) }
    }

    @Test(arguments: Backend.available)
    func closeEmptiesTheLastReadyKeysAndLeavesTheUsersDescriptorsOpen(backend: Backend) throws {
        try withDescriptors { fds in
            let selector = try Selector(backend: backend)
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            try writeAll(right, "x")
            let ready = try selector.select(timeout: .seconds(5))
            selector.close()
            #expect(Array(ready).isEmpty)
            #expect(selector.count == 0)
            #expect(isOpen(left))
            #expect(try readAvailable(left) == Array("x".utf8))
        }
    }
}

extension DescriptorHeavyTests {
    // Other tests open and close descriptors meanwhile, so only the kinds a selector makes are
    // counted (see `kernelObjectDescriptorCount`), and those still move a little either way
    // (other tests' loops); a leak of one descriptor per cycle moves the count by 2,000.
    @Test(arguments: Backend.available)
    func twoThousandCreateCloseCyclesLeakNoDescriptor(backend: Backend) throws {
        let growth = try descriptorGrowthAfterTwoThousandSelectors(backend, closing: true)
        #expect(growth < 500, "\(growth) more descriptors open after 2,000 cycles")
    }

    @Test(arguments: Backend.available)
    func droppingTwoThousandSelectorsWithoutCloseLeaksNoDescriptor(backend: Backend) throws {
        let growth = try descriptorGrowthAfterTwoThousandSelectors(backend, closing: false)
        #expect(growth < 500, "\(growth) more descriptors open after 2,000 selectors")
    }

    /// Creates 2,000 selectors, each with one registration, closing each or only dropping it,
    /// and returns how much the count of kernel-object descriptors grew.
    private func descriptorGrowthAfterTwoThousandSelectors(_ backend: Backend, closing: Bool) throws -> Int {
        try withDescriptors { fds in
            let (reader, _) = try fds.pipe()
            let before = kernelObjectDescriptorCount()
            for _ in 0..<2_000 {
                let selector = try Selector(backend: backend)
                try selector.register(reader, events: .read, handler: ignoreEvents)
                if closing { selector.close() }
            }
            return kernelObjectDescriptorCount() - before
        }
    }
}
