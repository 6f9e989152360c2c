import Selectors

/// Picks the next step from the model's current state, so most steps are meaningful: reads
/// and writes go to ends that can do them, `unregister` and `modify` mostly to registered
/// fds, `dup2` often onto a registered number, and `select` is frequent.
struct OperationGenerator {
    private var random: SplitMix

    init(seed: UInt64) { random = SplitMix(seed: seed) }

    /// What a handler does to other registrations mid-batch: unregister, re-register,
    /// narrow or widen, close, or replace the file behind a registered number.
    private mutating func midBatchSteps(_ model: ContractModel, registered: [Int], open: [Int])
        -> [FuzzOperation]
    {
        guard let slot = registered.randomElement(using: &random) else { return [] }
        let events = [Events.read, .write, .all].randomElement(using: &random)!
        switch Int.random(in: 0..<5, using: &random) {
        case 0: return [.unregister(slot)]
        case 1: return [.unregister(slot), .register(slot, events)]
        case 2: return [.modify(slot, events)]
        case 3: return [.close(slot)]
        default:
            guard let source = open.randomElement(using: &random), source != slot else {
                return [.close(slot)]
            }
            return [.unregister(slot), .dup2(source, onto: slot), .register(slot, events)]
        }
    }

    mutating func next(for model: ContractModel) -> FuzzOperation {
        let open = model.openSlots
        let registered = model.registrations.keys.sorted()
        let anySlot = Int.random(in: 0..<model.slotCount, using: &random)
        func pick(_ slots: [Int]) -> Int? { slots.randomElement(using: &random) }
        func events() -> Events { [Events.read, .write, .all].randomElement(using: &random)! }

        while true {
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<6:
                if open.count <= model.slotCount - 4, let free = model.freeSlots(2) {
                    return Bool.random(using: &random)
                        ? .openSocketPair(free[0], free[1]) : .openPipe(free[0], free[1])
                }
            case 6..<9:
                if let slot = pick(open), let free = model.freeSlots(1) { return .dup(slot, to: free[0]) }
            case 9..<13:
                // Onto a registered number mostly: the interesting case.
                if let source = pick(open), let target = pick(registered) ?? pick(open), source != target {
                    return .dup2(source, onto: target)
                }
            case 13..<14:
                if let source = pick(open), source != anySlot { return .dup2(source, onto: anySlot) }
            case 14..<20:
                if let slot = Int.random(in: 0..<3, using: &random) == 0 ? pick(registered) : pick(open) {
                    return .close(slot)
                }
            case 20..<31:
                // Mostly open, unregistered numbers; sometimes closed or registered ones.
                let fresh = open.filter { model.registrations[$0] == nil }
                let slot = Int.random(in: 0..<5, using: &random) == 0 ? anySlot : pick(fresh) ?? anySlot
                return .register(slot, events())
            case 31..<32:
                let invalid: [FuzzOperation.InvalidRegistration] = [
                    .emptyEvents(slot: anySlot), .unknownEvents(slot: anySlot), .negativeDescriptor,
                ]
                return .registerInvalid(invalid.randomElement(using: &random)!)
            case 32..<40:
                return .modify(
                    Int.random(in: 0..<6, using: &random) == 0 ? anySlot : pick(registered) ?? anySlot,
                    events())
            case 40..<47:
                return .unregister(
                    Int.random(in: 0..<6, using: &random) == 0 ? anySlot : pick(registered) ?? anySlot)
            case 47..<58:
                if let slot = pick(open.filter { model.file(at: $0)!.kind.canWrite }) {
                    return .write(slot, bytes: Int.random(in: 1...100, using: &random))
                }
            case 58..<60:
                if let slot = pick(open.filter { model.file(at: $0)!.kind.canWrite }) { return .fill(slot) }
            case 60..<69:
                if let slot = pick(open.filter { model.file(at: $0)!.kind.canRead }) {
                    return .read(slot, bytes: Int.random(in: 1...150, using: &random))
                }
            case 69..<72:
                if let slot = pick(open.filter { model.file(at: $0)!.kind.canRead }) { return .drain(slot) }
            case 72..<92:
                return .select(.none)
            case 92..<95:
                return .select(.brief)
            case 95..<98:
                return .dispatch(midBatchSteps(model, registered: registered, open: open))
            default:
                return .select(.long)
            }
        }
    }
}
