/// The backend of a scripted selector: a `PollingBackend` whose "kernel" is a
/// `ReadinessScript`, so the real `Selector` does all the bookkeeping (validation, key table,
/// generations, stale-event dropping) exactly as it does over epoll.
///
/// Its waits never block: a test thread that blocked waiting for itself would wait forever, and
/// time is virtual anyway (see `VirtualEventLoop`). A wait reports, in ascending fd order, each
/// registered fd whose scripted readiness meets its interest.
final class ScriptedBackend: PollingBackend {
    /// What this selector's kernel would hold for one fd, plus what it has told the selector.
    private struct Registration {
        var interest: Events
        var token: UInt64
        /// What the last report for this registration said, and the script's stamp of the
        /// fd then: readiness that is both already told and unchanged since is no news.
        var told: Events = []
        var toldStamp: UInt64 = 0
    }

    let script: ReadinessScript
    var descriptorLimit: Int32 { ReadinessScript.descriptorLimit }
    private var registrations: [Int32: Registration] = [:]

    init(script: ReadinessScript) { self.script = script }

    func add(fd: Int32, events: Events, token: UInt64) throws(Errno) {
        if let rejection = script.file(fd).rejection { throw rejection }
        registrations[fd] = Registration(interest: events, token: token)
    }

    func modify(fd: Int32, from oldEvents: Events, to newEvents: Events, token: UInt64) throws(Errno) {
        if let rejection = script.file(fd).rejection { throw rejection }
        registrations[fd]?.interest = newEvents
        registrations[fd]?.token = token
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
            // (An edge-triggered registration would also require `isNews`, a one-shot one its
            // arming: the bookkeeping trigger modes need is already here.)
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
        registrations.contains { fd, registration in isNews(registration, script.file(fd)) }
    }

    /// Whether `file` is ready for something `registration` watches that it has not been
    /// told: the file changed since the last report, or the readiness is wider than it was.
    private func isNews(_ registration: Registration, _ file: ReadinessScript.File) -> Bool {
        let ready = file.readiness.intersection(registration.interest)
        return !ready.isEmpty
            && (file.stamp != registration.toldStamp || !ready.isSubset(of: registration.told))
    }
}
