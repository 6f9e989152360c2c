/// The backend of a scripted selector: a `PollingBackend` whose "kernel" is a
/// `ReadinessScript`, so the real `Selector` does all the bookkeeping (validation, key table,
/// generations, stale-event dropping) exactly as it does over epoll.
///
/// Its waits never block: a test thread that blocked waiting for itself would wait forever, and
/// time is virtual anyway (see `VirtualEventLoop`). A wait reports, in ascending fd order, each
/// registered fd whose scripted readiness meets its interest: a level registration at every
/// wait; an edge one only for news (a scripted change since its last report, or readiness
/// wider than that report), as a kernel reports an arrival; a one-shot one once per arming.
/// `modify` re-arms (see `Trigger`): an edge registration hears of standing readiness again.
final class ScriptedBackend: PollingBackend {
    /// What this selector's kernel would hold for one fd, plus what it has told the selector.
    private struct Registration {
        var interest: Events
        var trigger: Trigger
        var token: UInt64
        /// One-shot: whether a report may come (set by `add` and `modify`, cleared by one).
        var armed = true
        /// What the last report for this registration said, and the script's stamp of the
        /// fd then: readiness that is both already told and unchanged since is no news.
        var told: Events = []
        var toldStamp: UInt64 = 0
    }

    let script: ReadinessScript
    var descriptorLimit: Int32 { ReadinessScript.descriptorLimit }
    private var registrations: [Int32: Registration] = [:]

    init(script: ReadinessScript) { self.script = script }

    func add(fd: Int32, events: Events, trigger: Trigger, token: UInt64) throws(Errno) {
        if let rejection = script.file(fd).rejection { throw rejection }
        registrations[fd] = Registration(interest: events, trigger: trigger, token: token)
    }

    func modify(fd: Int32, from old: Interest, to new: Interest, token: UInt64) throws(Errno) {
        if let rejection = script.file(fd).rejection { throw rejection }
        guard var registration = registrations[fd] else { return }
        registration.interest = new.events
        registration.trigger = new.trigger
        registration.token = token
        registration.armed = true
        // Level keeps what it was told, so a narrowing modify is no news to a virtual loop;
        // edge re-arms, and is told standing readiness again.
        if new.trigger == .edge { registration.told = [] }
        registrations[fd] = registration
    }

    func remove(fd: Int32, events: Events) throws(Errno) {
        registrations[fd] = nil
    }

    func wait(timeout: WaitTimeout?, into buffer: UnsafeMutableBufferPointer<ReadyEvent>) throws(Errno) -> Int
    {
        var written = 0
        for fd in registrations.keys.sorted() where written < buffer.count {
            guard var registration = registrations[fd] else { continue }
            let file = script.file(fd)
            let reported = file.readiness.intersection(registration.interest)
            guard !reported.isEmpty else { continue }
            switch registration.trigger {
            case .level: break
            case .edge: guard isNews(registration, file) else { continue }
            case .oneShot:
                guard registration.armed else { continue }
                registration.armed = false
            }
            buffer[written] = ReadyEvent(token: registration.token, events: reported)
            written += 1
            script.consumeOnce(fd, reported)
            registration.told = reported
            registration.toldStamp = file.stamp
            registrations[fd] = registration
        }
        return written
    }

    func close() {
        registrations = [:]
    }

    /// Whether some registration has readiness it has not been told about: a delivery, a
    /// scripted change since its last report, or a new or widened interest that meets
    /// standing readiness. A virtual loop iterates again while this holds; unchanged standing
    /// readiness is reported by every wait but is no reason to wait again.
    var hasNews: Bool {
        registrations.contains { fd, registration in
            (registration.trigger != .oneShot || registration.armed) && isNews(registration, script.file(fd))
        }
    }

    /// Whether `file` is ready for something `registration` watches that it has not been
    /// told: the file changed since the last report, or the readiness is wider than it was.
    private func isNews(_ registration: Registration, _ file: ReadinessScript.File) -> Bool {
        let ready = file.readiness.intersection(registration.interest)
        return !ready.isEmpty
            && (file.stamp != registration.toldStamp || !ready.isSubset(of: registration.told))
    }
}
