extension Selector {
    /// Creates a selector whose readiness comes from `script` instead of the kernel, for
    /// testing handlers without sockets; its `backend` is `.scripted`.
    ///
    /// Registration, validation, generations and stale-event dropping are this class's own,
    /// as over epoll; only the waiting is scripted. fds are plain numbers below
    /// `ReadinessScript.descriptorLimit`, with nothing open behind them, so any number not
    /// already registered can be registered (unless the script rejects it). A `select` never
    /// blocks, whatever its timeout: it reports what the script makes ready now, in ascending
    /// fd order, and returns.
    public convenience init(script: ReadinessScript) {
        self.init(backend: .scripted, kernel: ScriptedBackend(script: script), resumesEarlyWakeUps: false)
    }
}
