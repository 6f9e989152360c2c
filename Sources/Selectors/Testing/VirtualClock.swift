import Synchronization

/// The time of a virtual loop: nanoseconds that move only when the test says so.
///
/// A class so the loop and its `VirtualEventLoop` read and move the same clock. Atomic
/// because `EventLoop.now` may be read from any thread; only the test's thread moves it.
final class VirtualClock: Sendable {
    private let value: Atomic<Int64>

    init(nanoseconds: Int64) { value = Atomic(nanoseconds) }

    var nanoseconds: Int64 {
        get { value.load(ordering: .relaxed) }
        set { value.store(newValue, ordering: .relaxed) }
    }
}

/// The waker of a virtual loop: there is no fd, because nothing ever blocks. `execute` and
/// `stop` still set the task queue's pending flag, which is all a virtual iteration looks at.
final class SilentWaker: Waker {
    var readFD: Int32 { -1 }
    func wake() {}
    func drain() {}
    func close() {}
}

extension VirtualClock: LoopClock {
    func now() -> Int64 { nanoseconds }

    static var standsStillDuringIterations: Bool { true }
}
