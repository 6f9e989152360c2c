import Selectors
import Testing

/// One entry of a `select` result, copied out of the selector's reusable buffer.
struct ReadyEntry: Equatable, CustomStringConvertible {
    let fd: Int32
    let events: Events
    var description: String { "\(fd): \(events)" }
}

extension Selector {
    /// The entries of one `select(timeout:)`, copied so they can be compared after the
    /// selector's buffer is reused. Always give a finite timeout in tests.
    func readyEntries(timeout: Duration?) throws(SelectorError) -> [ReadyEntry] {
        try select(timeout: timeout).map { ReadyEntry(fd: $0.key.fd, events: $0.events) }
    }

    /// Waits up to `timeout` and runs each ready key's handler, as an event loop does:
    /// each key is resolved when reached, so handlers may change registrations mid-batch.
    /// Returns how many handlers ran.
    @discardableResult
    func dispatch(timeout: Duration?) throws(SelectorError) -> Int {
        var ran = 0
        for (key, events) in try select(timeout: timeout) {
            key.handler(key.fd, events)
            ran += 1
        }
        return ran
    }
}

/// The `SelectorError` that `body` throws; records an issue and returns `nil` when it does
/// not throw or throws something else.
///
/// `body` is untyped `throws` so call sites can pass plain closures: Swift does not infer a
/// typed throw for a multi-statement closure.
func selectorError<Value>(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Value
) -> SelectorError? {
    do {
        let value = try body()
        Issue.record("expected a SelectorError, got \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let error as SelectorError {
        return error
    } catch {
        Issue.record("expected a SelectorError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Checks that `body` throws exactly `SelectorError(operation, fd: fd, reason)`, and that the
/// error's description names the operation, the fd and the reason.
func expectSelectorError<Value>(
    _ operation: SelectorError.Operation, fd: Int32?, _ reason: SelectorError.Reason,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Value
) {
    guard let error = selectorError(sourceLocation: sourceLocation, body) else { return }
    #expect(error == SelectorError(operation, fd: fd, reason), sourceLocation: sourceLocation)
    let text = error.description
    #expect(text.hasPrefix(operation.rawValue + "("), "\(text)", sourceLocation: sourceLocation)
    if let fd {
        #expect(text.contains("fd: \(fd)"), "\(text)", sourceLocation: sourceLocation)
    }
    #expect(text.hasSuffix(": \(reason)"), "\(text)", sourceLocation: sourceLocation)
}

/// A handler for tests that only look at what `select` returns.
func ignoreEvents(_ fd: Int32, _ events: Events) {}
