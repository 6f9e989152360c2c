import Selectors

/// The notices one echo loop gives an operator, each kind that can repeat quickly held to a
/// line a second (`NoticeLimiter`). Loop-thread state.
final class EchoNotices {
    private let log: (@Sendable (String) -> Void)?
    private let configuration: EchoServer.Configuration
    private let backend: Backend
    /// Set by the first loop that logs a registration refused for the backend's fd limit.
    private let descriptorLimitNotice: OnceFlag
    private var rejections = NoticeLimiter()
    private var pauses = NoticeLimiter()
    private var idleCloses = NoticeLimiter()
    private var registrations = NoticeLimiter()

    init(configuration: EchoServer.Configuration, backend: Backend, descriptorLimitNotice: OnceFlag) {
        self.log = configuration.log
        self.configuration = configuration
        self.backend = backend
        self.descriptorLimitNotice = descriptorLimitNotice
    }

    func rejected() {
        guard let log, let count = rejections.record() else { return }
        log(
            "rejected \(count) connection\(count == 1 ? "" : "s"): "
                + "\(configuration.maxConnections ?? 0) open already (the maximum)")
    }

    /// Backpressure: a connection stopped reading.
    func pausedReading() {
        guard let log, let count = pauses.record() else { return }
        log(
            "backpressure: paused reading \(count) time\(count == 1 ? "" : "s"): a client had more than "
                + "\(configuration.highWaterMark) bytes waiting to be sent to it "
                + "(reading resumes at \(configuration.lowWaterMark))")
    }

    func closedIdle() {
        guard let log, let count = idleCloses.record() else { return }
        log(
            "closed \(count) idle connection\(count == 1 ? "" : "s") "
                + "(no progress for \(configuration.idleTimeout ?? .zero))")
    }

    /// Only the first pause of a run of failures is logged; `acceptResumed` closes the run.
    func acceptPaused(_ error: Errno) {
        guard let log, !inPauseRun else { return }
        inPauseRun = true
        let exhausted = error == .tooManyOpenFiles || error == .tooManyOpenFilesInSystem
        let reason = exhausted ? "out of file descriptors" : "accept failed"
        log("\(reason): \(error); pausing accepts, retrying every \(configuration.acceptRetryDelay)")
    }
    private var inPauseRun = false

    func acceptResumed(after pauses: Int) {
        inPauseRun = false
        log?("accepting again after \(pauses) pause(s)")
    }

    /// The selector would not watch an accepted connection (it was closed). The select
    /// backend's fd limit is logged once per server, as it will recur for every fd above it.
    func registrationRefused(_ fd: Int32, _ error: SelectorError) {
        guard let log else { return }
        if case .descriptorTooLarge(let limit) = error.reason {
            if descriptorLimitNotice.claim() {
                log(
                    "the \(backend) backend cannot watch fd \(fd) or any other from \(limit) up; "
                        + "connections on such descriptors are closed at once (counted as registration "
                        + "errors; logged only once): use epoll or poll, or lower the open-files limit")
            }
        } else if let count = registrations.record() {
            log("closed \(count) accepted connection\(count == 1 ? "" : "s") the selector refused: \(error)")
        }
    }
}
