/// Delta debugging (Zeller's ddmin), then single-step removal until no step can go, then the
/// same for the handler steps inside mid-batch selects: the result still fails the same
/// check, and removing any one of its steps makes it pass.
///
/// Every candidate is replayed from scratch on a fresh selector; steps whose precondition
/// no longer holds are skipped, so any subsequence is a valid case. `budget` bounds the
/// number of replays.
struct Shrinker {
    let stillFails: ([FuzzOperation]) -> Bool
    var budget = 4_000

    mutating func shrink(_ operations: [FuzzOperation]) -> [FuzzOperation] {
        var current = operations
        var granularity = 2
        while current.count >= 2 && budget > 0 {
            let chunk = (current.count + granularity - 1) / granularity
            var reduced = false
            for start in stride(from: 0, to: current.count, by: chunk) where budget > 0 {
                var candidate = current
                candidate.removeSubrange(start..<min(start + chunk, current.count))
                if attempt(candidate) {
                    current = candidate
                    granularity = max(granularity - 1, 2)
                    reduced = true
                    break
                }
            }
            if !reduced {
                if granularity >= current.count { break }
                granularity = min(granularity * 2, current.count)
            }
        }
        var removedOne = true
        while removedOne && budget > 0 {
            removedOne = false
            var index = current.count - 1
            while index >= 0 && budget > 0 {
                var candidate = current
                candidate.remove(at: index)
                if attempt(candidate) {
                    current = candidate
                    removedOne = true
                }
                index -= 1
            }
        }
        // A handler's steps inside a mid-batch select shrink too, one at a time.
        for index in current.indices.reversed() {
            guard case .dispatch(var steps) = current[index] else { continue }
            var inner = steps.count - 1
            while inner >= 0 && budget > 0 {
                var candidate = current
                var fewer = steps
                fewer.remove(at: inner)
                candidate[index] = .dispatch(fewer)
                if attempt(candidate) {
                    current = candidate
                    steps = fewer
                }
                inner -= 1
            }
        }
        return current
    }

    private mutating func attempt(_ candidate: [FuzzOperation]) -> Bool {
        budget -= 1
        return stillFails(candidate)
    }
}
