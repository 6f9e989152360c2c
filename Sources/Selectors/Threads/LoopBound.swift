/// A value that belongs to one loop's thread, wrapped so it can travel through `Sendable`
/// closures (`execute`, `@Sendable` timers, other threads) without being touched on the way.
///
/// ```swift
/// let state = LoopBound(ChatRoom(), on: loop)          // on the loop's thread
/// try otherLoop.execute { try? loop.execute { state.value.broadcast(line) } }
/// ```
///
/// `value` traps (in every build) when read on another thread, so the wrapper moves the
/// check that Swift cannot make at compile time to the one place the value is used.
/// SwiftNIO's `NIOLoopBound` is the model.
public struct LoopBound<Value>: @unchecked Sendable {
    // @unchecked: `storage` is only reached through `value`, which checks the thread.
    private let storage: Value
    /// The loop whose thread may use the value.
    public let loop: EventLoop

    /// Wraps `value`, which belongs to `loop`'s thread. Call it there.
    public init(_ value: Value, on loop: EventLoop) {
        precondition(loop.isOnLoopThread, "LoopBound.init called off the loop's thread")
        self.storage = value
        self.loop = loop
    }

    /// The value; only on the loop's thread.
    public var value: Value {
        precondition(loop.isOnLoopThread, "LoopBound.value used off the loop's thread")
        return storage
    }
}
