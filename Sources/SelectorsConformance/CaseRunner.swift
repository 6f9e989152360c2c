import Selectors

/// A broken promise of the contract (or a disagreement between the model and the kernel).
struct Violation: Error, Equatable {
    /// A short, stable name of the check, so shrinking keeps the same failure.
    let check: String
    let detail: String
}

/// Runs one fuzz case: a fresh selector, the steps, a check after each, and the teardown.
final class CaseRunner {
    /// Whether the backend refuses a closed fd at register time (its interest list is in the
    /// kernel) or accepts it and reports it at the next wait (poll, select).
    private let refusesClosedDescriptors: Bool
    private let base: Int32
    private let selector: Selector
    private var model: ContractModel
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
    private(set) var statistics = FuzzStatistics()

    init(backend: Backend, firstDescriptor: Int32, slotCount: Int) throws {
        refusesClosedDescriptors = backend == .epoll || backend == .kqueue
        base = firstDescriptor
        selector = try Selector(backend: backend)
        // uring's polls hold the files they watch (see ContractModel).
        model = ContractModel(slotCount: slotCount, registrationsHoldFiles: backend == .uring)
        buffer.initializeMemory(as: UInt8.self, repeating: 0x5A)
    }

    deinit {
        buffer.deallocate()
    }

    var state: ContractModel { model }

    /// Closes the selector and every descriptor the case left open.
    func tearDown() {
        selector.close()
        for slot in model.openSlots { Kernel.close(fd(slot)) }
    }

    private func fd(_ slot: Int) -> Int32 { base + Int32(slot) }

    /// Runs `operation`; throws the first violation it finds.
    func run(_ operation: FuzzOperation) throws(Violation) {
        statistics.operations += 1
        switch operation {
        case .openSocketPair(let first, let second): try open(socket: true, first, second)
        case .openPipe(let read, let write): try open(socket: false, read, write)
        case .dup(let source, let target): try duplicate(source, to: target)
        case .dup2(let source, let target): try duplicate(source, onto: target)
        case .close(let slot):
            guard model.isOpen(slot) else { return skipped() }
            Kernel.close(fd(slot))
            model.close(slot)
        case .register(let slot, let events): try register(slot, events)
        case .registerInvalid(let invalid): try registerInvalid(invalid)
        case .modify(let slot, let events): try modify(slot, events)
        case .unregister(let slot): try unregister(slot)
        case .write(let slot, let bytes): try write(slot, bytes: bytes)
        case .fill(let slot): try fill(slot)
        case .read(let slot, let bytes): try read(slot, limit: bytes)
        case .drain(let slot): try drain(slot)
        case .select(let wait): try select(wait)
        case .dispatch(let steps): try select(.none, midBatch: steps)
        }
        guard selector.count == model.registrations.count else {
            throw Violation(
                check: "registration count",
                detail:
                    "the selector has \(selector.count) registrations, the model \(model.registrations.count)"
            )
        }
    }

    private func skipped() { statistics.skipped += 1 }

    // MARK: Descriptors

    private func open(socket: Bool, _ firstSlot: Int, _ secondSlot: Int) throws(Violation) {
        guard firstSlot != secondSlot, !model.isOpen(firstSlot), !model.isOpen(secondSlot) else {
            return skipped()
        }
        guard let (first, second) = socket ? Kernel.socketPair() : Kernel.pipe() else {
            throw Violation(check: "harness", detail: "socketpair/pipe failed: \(Kernel.errno)")
        }
        try move(first, to: firstSlot)
        try move(second, to: secondSlot)
        model.open(socket ? (.socket, .socket) : (.pipeRead, .pipeWrite), at: firstSlot, secondSlot)
    }

    /// Moves a kernel-numbered descriptor into its slot's number.
    private func move(_ descriptor: Int32, to slot: Int) throws(Violation) {
        let moved = Kernel.duplicate(descriptor, atLeast: fd(slot))
        Kernel.close(descriptor)
        guard moved == fd(slot) else {
            throw Violation(
                check: "harness", detail: "fd \(fd(slot)) was not free (got \(moved)): a foreign descriptor")
        }
    }

    private func duplicate(_ source: Int, to target: Int) throws(Violation) {
        guard model.isOpen(source), !model.isOpen(target) else { return skipped() }
        let copy = Kernel.duplicate(fd(source), atLeast: fd(target))
        guard copy == fd(target) else {
            if copy >= 0 { Kernel.close(copy) }
            throw Violation(
                check: "harness", detail: "dup of fd \(fd(source)) gave \(copy), not \(fd(target))")
        }
        model.duplicate(source, onto: target)
    }

    private func duplicate(_ source: Int, onto target: Int) throws(Violation) {
        guard model.isOpen(source), source != target else { return skipped() }
        guard Kernel.duplicate(fd(source), onto: fd(target)) == fd(target) else {
            throw Violation(check: "harness", detail: "dup2 onto fd \(fd(target)) failed: \(Kernel.errno)")
        }
        model.duplicate(source, onto: target)
    }

    // MARK: Registrations

    private func register(_ slot: Int, _ events: Events) throws(Violation) {
        let number = fd(slot)
        let expected: SelectorError.Reason?
        if model.registrations[slot] != nil {
            expected = .alreadyRegistered
        } else if !model.isOpen(slot) && refusesClosedDescriptors {
            expected = .system(.badFileDescriptor)
        } else {
            expected = nil
        }
        switch Result(catching: { () throws(SelectorError) in
            try selector.register(number, events: events) { _, _ in }
        }) {
        case .success(let key):
            guard expected == nil else {
                throw Violation(
                    check: "register accepted",
                    detail: "register fd \(number) succeeded; expected \(expected!)")
            }
            guard key.fd == number, key.events == events else {
                throw Violation(
                    check: "register key", detail: "register fd \(number) returned \(key.fd) \(key.events)")
            }
            model.register(slot, events)
        case .failure(let error):
            try expect(error, .register, number, expected)
        }
    }

    private func registerInvalid(_ invalid: FuzzOperation.InvalidRegistration) throws(Violation) {
        let (number, events, reason): (Int32, Events, SelectorError.Reason)
        switch invalid {
        case .emptyEvents(let slot): (number, events, reason) = (fd(slot), [], .invalidEvents([]))
        case .unknownEvents(let slot):
            let bits = Events(rawValue: 0x0C | Events.read.rawValue)
            (number, events, reason) = (fd(slot), bits, .invalidEvents(bits))
        case .negativeDescriptor: (number, events, reason) = (-1, .read, .negativeDescriptor)
        }
        switch Result(catching: { () throws(SelectorError) in
            try selector.register(number, events: events) { _, _ in }
        }) {
        case .success:
            throw Violation(check: "register accepted", detail: "register fd \(number) \(events) succeeded")
        case .failure(let error):
            try expect(error, .register, number, reason)
        }
    }

    private func modify(_ slot: Int, _ events: Events) throws(Violation) {
        let number = fd(slot)
        let result = Result(catching: { () throws(SelectorError) in
            try selector.modify(number, events: events)
        })
        guard let registration = model.registrations[slot] else {
            guard case .failure(let error) = result else {
                throw Violation(
                    check: "modify accepted", detail: "modify of unregistered fd \(number) succeeded")
            }
            return try expect(error, .modify, number, .notRegistered)
        }
        switch result {
        case .success(let key):
            guard key.events == events, (try? selector.key(for: number))?.events == events else {
                throw Violation(
                    check: "modify key", detail: "modify fd \(number) to \(events) left \(key.events)")
            }
            model.modify(slot, events)
        case .failure(let error):
            // Only a registration whose number no longer names its file may be refused; the
            // selector then forgets it.
            guard !model.isIntact(slot), error.operation == .modify, error.fd == number,
                case .system = error.reason
            else {
                throw Violation(
                    check: "modify refused",
                    detail: "modify fd \(number) from \(registration.events) to \(events) threw \(error)")
            }
            guard (try? selector.key(for: number)) == nil else {
                throw Violation(
                    check: "modify rollback", detail: "modify fd \(number) threw \(error) but kept the key")
            }
            model.unregister(slot)
        }
    }

    private func unregister(_ slot: Int) throws(Violation) {
        let number = fd(slot)
        switch Result(catching: { () throws(SelectorError) in try selector.unregister(number) }) {
        case .success(let key):
            guard let registration = model.registrations[slot] else {
                throw Violation(
                    check: "unregister accepted", detail: "unregister of unregistered fd \(number) succeeded")
            }
            guard key.fd == number, key.events == registration.events else {
                throw Violation(
                    check: "unregister key",
                    detail: "unregister fd \(number) returned \(key.fd) \(key.events)")
            }
            model.unregister(slot)
        case .failure(let error):
            try expect(error, .unregister, number, model.registrations[slot] == nil ? .notRegistered : nil)
        }
    }

    private func expect(
        _ error: SelectorError, _ operation: SelectorError.Operation, _ fd: Int32,
        _ reason: SelectorError.Reason?
    ) throws(Violation) {
        guard let reason else {
            throw Violation(check: "\(operation) refused", detail: "\(operation) fd \(fd) threw \(error)")
        }
        guard error == SelectorError(operation, fd: fd, reason) else {
            throw Violation(
                check: "\(operation) error",
                detail: "\(operation) fd \(fd) threw \(error); expected \(reason)")
        }
    }

    // MARK: Data

    private func write(_ slot: Int, bytes: Int) throws(Violation) {
        guard let file = model.file(at: slot), file.kind.canWrite else { return skipped() }
        let peerClosed = model.peerIsClosed(slot)
        let peerLingers = model.peerLingers(slot)
        switch Kernel.write(fd(slot), UnsafeRawBufferPointer(rebasing: buffer[..<bytes])) {
        case .success(let count):
            guard !peerClosed else {
                throw Violation(
                    check: "kernel model",
                    detail: "write to fd \(fd(slot)) with a closed peer took \(count) bytes")
            }
            model.wrote(count, from: slot, filled: false)
        case .failure(let error) where error == .wouldBlock:
            model.wrote(0, from: slot, filled: true)
        case .failure(let error):
            guard peerClosed || peerLingers else {
                throw Violation(check: "kernel model", detail: "write to fd \(fd(slot)) failed: \(error)")
            }
            model.peerWasLetGo(slot)
        }
    }

    private func fill(_ slot: Int) throws(Violation) {
        guard let file = model.file(at: slot), file.kind.canWrite, !model.peerIsClosed(slot),
            !model.peerLingers(slot)
        else {
            return skipped()
        }
        let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<(file.kind == .socket ? 65_536 : 4_096)])
        var total = 0
        for _ in 0..<1_000 {
            switch Kernel.write(fd(slot), chunk) {
            case .success(let count):
                total += count
                continue
            case .failure(let error) where error == .wouldBlock:
                model.wrote(total, from: slot, filled: true)
                return
            case .failure(let error):
                throw Violation(check: "kernel model", detail: "filling fd \(fd(slot)) failed: \(error)")
            }
        }
        throw Violation(
            check: "kernel model", detail: "fd \(fd(slot)) took \(total) bytes without filling up")
    }

    /// One read, checked against the model: the queued bytes first, then a pending reset,
    /// then end of file once the peer closed, else `EAGAIN`.
    @discardableResult
    private func read(_ slot: Int, limit: Int) throws(Violation) -> Bool {
        guard let file = model.file(at: slot), file.kind.canRead else {
            skipped()
            return false
        }
        let number = fd(slot)
        let result = Kernel.read(number, UnsafeMutableRawBufferPointer(rebasing: buffer[..<limit]))
        let expected: String
        switch result {
        case .success(let count) where file.queued > 0 && count == min(limit, file.queued):
            model.read(count, from: slot)
            return true
        case .failure(let error) where file.queued == 0 && file.resetPending && error == .connectionReset:
            model.consumeReset(at: slot)
            return true
        case .success(0) where file.queued == 0 && !file.resetPending && model.peerIsClosed(slot):
            return false
        // A lingering peer may be gone already: its end (or its reset, if it dies with unread
        // bytes) shows here first.
        case .success(0)
        where file.queued == 0 && !file.resetPending && model.peerLingers(slot)
            && !leavesAReset(model.peer(of: slot)):
            model.peerWasLetGo(slot)
            return false
        case .failure(let error)
        where file.queued == 0 && !file.resetPending && model.peerLingers(slot)
            && leavesAReset(model.peer(of: slot)) && error == .connectionReset:
            model.peerWasLetGo(slot)
            model.consumeReset(at: slot)
            return true
        case .failure(let error) where file.queued == 0 && !model.peerIsClosed(slot) && error == .wouldBlock:
            return false
        default:
            if file.queued > 0 {
                expected = "\(min(limit, file.queued)) bytes"
            } else if file.resetPending {
                expected = "ECONNRESET"
            } else {
                expected = model.peerIsClosed(slot) ? "end of file" : "EAGAIN"
            }
        }
        throw Violation(
            check: "kernel model",
            detail: "read from fd \(number) (\(file.kind)) gave \(result); expected \(expected)")
    }

    /// Whether closing `file` resets its peer's next read: a socket with unread bytes.
    private func leavesAReset(_ file: ContractModel.File?) -> Bool {
        file.map { $0.kind == .socket && $0.queued > 0 } ?? false
    }

    private func drain(_ slot: Int) throws(Violation) {
        guard let file = model.file(at: slot), file.kind.canRead else { return skipped() }
        for _ in 0..<100 where try read(slot, limit: 65_536) {}
    }

    // MARK: Select

    /// A select checked against the model. With `midBatch`, those steps run after the first
    /// entry is yielded, as a handler would run them, and the later entries are checked
    /// against the registrations as they are then.
    private func select(_ wait: FuzzOperation.Wait, midBatch: [FuzzOperation]? = nil) throws(Violation) {
        model.selectStarting()
        defer { model.selectFinished() }
        var expectations: [Int32: (must: Events, may: Events)] = [:]
        var serials: [Int32: (serial: Int, may: Events)] = [:]
        var anyMust = false
        var anyMay = false
        for (slot, registration) in model.registrations {
            let expectation = model.expectation(for: slot)
            expectations[fd(slot)] = expectation
            serials[fd(slot)] = (registration.serial, model.readiness(for: slot).may)
            anyMust = anyMust || !expectation.must.isEmpty
            anyMay = anyMay || !expectation.may.isEmpty
        }
        let timeout: Duration
        switch wait {
        case .none: timeout = .zero
        case .brief: timeout = .milliseconds(1)
        case .long: timeout = anyMust ? .seconds(2) : .zero
        }
        statistics.selects += 1
        let start = Kernel.now()
        var reported: [Int32: Events] = [:]
        var duplicate: Int32?
        var pendingSteps = midBatch
        var touched: Set<Int32> = []
        var first: Int32?
        var stepViolation: Violation?
        var lateViolation: Violation?
        let outcome = Result { () throws(SelectorError) in
            for (key, events) in try selector.select(timeout: timeout) {
                if reported.updateValue(events, forKey: key.fd) != nil { duplicate = key.fd }
                if pendingSteps == nil {
                    if lateViolation == nil { lateViolation = checkLate(key.fd, events, serials) }
                } else if let steps = pendingSteps.take() {
                    first = key.fd
                    do throws(Violation) {
                        for step in steps { touched.formUnion(try runMidBatch(step)) }
                    } catch {
                        stepViolation = error
                        return
                    }
                }
            }
        }
        if case .failure(let error) = outcome {
            throw Violation(check: "select threw", detail: "select threw \(error)")
        }
        if let stepViolation { throw stepViolation }
        if let lateViolation { throw lateViolation }
        if let duplicate {
            throw Violation(check: "select duplicate", detail: "fd \(duplicate) reported twice in one batch")
        }
        // A handler changed these: the late check above judged them by their new interest.
        for fd in touched {
            guard fd != first, let events = reported[fd] else {
                expectations[fd]?.must = []
                continue
            }
            expectations[fd] = ([], events)
        }
        let elapsed = Kernel.now() - start
        for (fd, events) in reported {
            guard let expectation = expectations[fd] else {
                throw Violation(
                    check: "select unregistered",
                    detail: "reported fd \(fd) \(events), which is not registered")
            }
            guard !events.isEmpty, events.isSubset(of: expectation.may) else {
                throw Violation(
                    check: "select spurious",
                    detail: "reported fd \(fd) \(events); at most \(expectation.may) may be reported")
            }
        }
        for (fd, expectation) in expectations where !expectation.must.isSubset(of: reported[fd] ?? []) {
            throw Violation(
                check: "select missed",
                detail: "fd \(fd) reported \(reported[fd] ?? []); \(expectation.must) must be reported")
        }
        if timeout > .zero && !anyMay {
            statistics.quietWaits += 1
            guard elapsed >= 1_000_000 else {
                throw Violation(
                    check: "select returned early",
                    detail: "select(timeout: \(timeout)) returned after \(elapsed) ns with nothing to report")
            }
        }
    }

    /// Runs a step of a mid-batch handler; returns the fds whose registration it changed.
    private func runMidBatch(_ step: FuzzOperation) throws(Violation) -> [Int32] {
        switch step {
        case .select, .dispatch:
            skipped()
            return []
        case .register(let slot, _), .modify(let slot, _), .unregister(let slot):
            try run(step)
            return [fd(slot)]
        default:
            try run(step)
            return []
        }
    }

    /// An entry yielded after a handler changed registrations: it must belong to the
    /// registration live at the wait, still live now, and fit its current interest.
    private func checkLate(_ fd: Int32, _ events: Events, _ serials: [Int32: (serial: Int, may: Events)])
        -> Violation?
    {
        let slot = Int(fd - base)
        guard slot >= 0, slot < model.slotCount, let registration = model.registrations[slot],
            let atWait = serials[fd], registration.serial == atWait.serial
        else {
            return Violation(
                check: "stale event",
                detail: "fd \(fd) \(events) yielded after a handler unregistered or re-registered it")
        }
        guard events.isSubset(of: registration.events.intersection(atWait.may)) else {
            return Violation(
                check: "stale interest",
                detail: "fd \(fd) yielded \(events) with interest \(registration.events); the kernel may "
                    + "have said \(atWait.may)")
        }
        return nil
    }
}
