import CSelectors
import Selectors
import Testing

// Joins the serialized descriptor-heavy suite, so no other test that opens hundreds of
// descriptors runs while these count them.
extension DescriptorHeavyTests {
    // Other tests still open and close descriptors meanwhile, so only the kinds a loop makes
    // (its selector's and its waker's) are counted, and those may still move a little either
    // way; a leak of even one descriptor per loop moves the count by 2,000.
    @Test(arguments: Backend.available)
    func twoThousandEventLoopsCreatedAndClosedLeakNoDescriptor(backend: Backend) throws {
        try withDescriptors { fds in
            let (reader, _) = try fds.pipe()
            let before = kernelObjectDescriptorCount()
            for index in 0..<2_000 {
                let loop = try EventLoop(backend: backend).assumeIsolated()
                // Some of everything a loop holds: a registration, a timer, a queued task.
                try loop.register(reader, events: .read) { _, _ in }
                loop.schedule(after: .seconds(60)) {}
                loop.execute {}
                if index.isMultiple(of: 2) {
                    try loop.runOnce(timeout: .zero)
                    loop.close()
                }
                // Odd loops are only released: deinit must close them just as well.
            }
            let growth = kernelObjectDescriptorCount() - before
            #expect(growth < 500, "\(growth) more descriptors open after 2,000 loops")
        }
    }

    /// A handler that captures its loop holds it (a cycle through the selector); unregistered
    /// between iterations, it must be let go at once, not at a next wait that never comes, or
    /// a loop dropped without `close()` keeps its descriptors open.
    @Test(arguments: Backend.available)
    func loopsDroppedAfterTheirSelfCapturingHandlerIsUnregisteredLeakNoDescriptor(backend: Backend) throws {
        try withDescriptors { fds in
            let (reader, writer) = try fds.pipe()
            try writeAll(writer, "x")
            let before = kernelObjectDescriptorCount()
            for _ in 0..<1_000 {
                let loop = try EventLoop(backend: backend).assumeIsolated()
                try loop.register(reader, events: .read) { _, _ in loop.stop() }
                try loop.run()
                try loop.unregister(reader)
            }
            let growth = kernelObjectDescriptorCount() - before
            #expect(growth < 250, "\(growth) more descriptors open after 1,000 loops")
        }
    }
}
