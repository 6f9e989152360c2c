/// Signal handlers of a loop, delivered through its `SignalWatcher` (loop thread).
extension EventLoop {
    func addSignalHandler(_ signal: Int32, _ handler: @escaping () -> Void) throws(SelectorError) {
        // Its pipe would be a real fd among the script's numbers, and nothing would report it.
        if virtualClock != nil { throw SelectorError(.onSignal, fd: nil, .virtualLoop) }
        let numbers = SignalRegistry.signalNumbers
        guard numbers.contains(signal) else {
            throw SelectorError(
                .onSignal, fd: nil,
                .invalidArgument(
                    "\(signal) is not a signal number (\(numbers.lowerBound) to \(numbers.upperBound))"))
        }
        guard !isClosed else { throw SelectorError(.onSignal, fd: nil, .loopClosed) }
        let watcher = try signalWatcher()
        let added: Bool
        do {
            added = try watcher.add(signal, handler)
        } catch {
            throw SelectorError(.onSignal, fd: nil, .system(error))
        }
        guard added else {
            throw SelectorError(
                .onSignal, fd: nil,
                .invalidArgument(
                    "signal \(signal) is watched by \(SignalRegistry.loopsPerSignal) loops already, the most at once"
                ))
        }
    }

    private func signalWatcher() throws(SelectorError) -> SignalWatcher {
        if let signals { return signals }
        let watcher: SignalWatcher
        do {
            watcher = try SignalWatcher()
        } catch {
            throw SelectorError(.onSignal, fd: nil, .system(error))
        }
        do {
            try selector.register(watcher.readFD, events: .read) { _, _ in watcher.dispatchPending() }
        } catch {
            watcher.close()
            throw error
        }
        signals = watcher
        return watcher
    }
}
