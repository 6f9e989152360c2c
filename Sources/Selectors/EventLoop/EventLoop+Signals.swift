/// Signal handlers of a loop, delivered through its `SignalWatcher` (loop thread).
extension EventLoop {
    func addSignalHandler(_ signal: Int32, _ handler: @escaping () -> Void) throws(SelectorError) {
        // Its pipe would be a real fd among the script's numbers, and nothing would report it.
        if virtualClock != nil { throw SelectorError(.onSignal, fd: nil, .virtualLoop) }
        let watcher = try signalWatcher()
        do {
            try watcher.add(signal, handler)
        } catch {
            throw SelectorError(.onSignal, fd: nil, .system(error))
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
