internal import CSelectors

/// Delivers signals to handlers on one loop's thread, through a self-pipe.
///
/// Why a self-pipe and not `signalfd`: signalfd only sees a signal that every thread of the
/// process blocks, and a library cannot make threads it did not create (the app's, Dispatch's,
/// the Swift runtime's) block it; a SIGINT that lands on such a thread runs the default action
/// and kills the process. The self-pipe works whichever thread the kernel picks: the C
/// handler writes the signal number into each watching loop's pipe, and the loop reads the
/// pipe like any fd. Signals arriving while the pipe is full are coalesced, as the kernel
/// coalesces pending signals anyway.
final class SignalWatcher {
    let readFD: Int32
    private let writeFD: Int32
    private var handlers: [Int32: [() -> Void]] = [:]

    init() throws(Errno) {
        (readFD, writeFD) = try SystemCall.nonBlockingPipe()
    }

    /// Adds `handler` for `signal`; false if the signal is new here and `SignalRegistry`
    /// has no room for another loop watching it.
    func add(_ signal: Int32, _ handler: @escaping () -> Void) throws(Errno) -> Bool {
        if handlers[signal] == nil {
            guard try SignalRegistry.watch(signal, writingTo: writeFD) else { return false }
        }
        handlers[signal, default: []].append(handler)
        return true
    }

    func removeAll(for signal: Int32) {
        guard handlers.removeValue(forKey: signal) != nil else { return }
        SignalRegistry.unwatch(signal, writingTo: writeFD)
    }

    /// Drains the pipe (its bytes only wake the loop) and runs the handlers of each signal
    /// once per delivery counted since the last time.
    func dispatchPending() {
        var chunk = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &chunk, { CSelectors.read(readFD, $0.baseAddress, $0.count) }) > 0 {}
        for signal in handlers.keys.sorted() {
            let deliveries = SignalRegistry.takeDeliveries(of: signal, writingTo: writeFD)
            for _ in 0..<deliveries {
                // Looked up again before each handler: one may remove the signal's handlers
                // or close the loop (which empties `handlers`), and a removed one must not run.
                var index = 0
                while let list = handlers[signal], index < list.count {
                    list[index]()
                    index += 1
                }
            }
        }
    }

    /// Closes the pipe once no signal handler can still write to it (`unwatch` waits for
    /// handlers in flight), so a late byte never lands in a file that reuses the number.
    func close() {
        for signal in handlers.keys { SignalRegistry.unwatch(signal, writingTo: writeFD) }
        handlers = [:]
        SystemCall.close(readFD)
        SystemCall.close(writeFD)
    }
}
