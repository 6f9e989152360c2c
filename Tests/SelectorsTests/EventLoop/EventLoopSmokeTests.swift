import CSelectors
import Selectors
import Synchronization
import Testing

@Test func eventLoopSmoke() throws {
    let loop = try EventLoop()
    var order: [Int] = []
    loop.schedule(after: .milliseconds(20)) { order.append(2) }
    loop.schedule(after: .milliseconds(10)) { order.append(1) }
    loop.schedule(after: .milliseconds(30)) { order.append(3); loop.stop() }
    let counter = Atomic<Int>(0)
    var thread = pthread_t()
    let box = Unmanaged.passRetained(loop)
    pthread_create(&thread, nil, { raw in
        let loop = Unmanaged<EventLoop>.fromOpaque(raw!).takeRetainedValue()
        for _ in 0..<1000 { loop.execute { } }
        return nil
    }, box.toOpaque())
    try loop.run()
    pthread_join(thread, nil)
    #expect(order == [1, 2, 3])
    _ = counter
    print(loop.metrics)
}
