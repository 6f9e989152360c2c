import EchoService
import Selectors
import Testing

/// How a test runs the echo server: the callback API with level- or edge-triggered
/// registrations, or the async API (a task per connection, whose pulled connections choose
/// their own trigger, so the configuration's trigger stays at its default).
enum EchoMode: CaseIterable, CustomTestStringConvertible, Sendable {
    case level
    case edge
    case async

    /// Sets `configuration` up to serve in this mode.
    func apply(to configuration: inout EchoServer.Configuration) {
        switch self {
        case .level:
            configuration.api = .callbacks
            configuration.trigger = .level
        case .edge:
            configuration.api = .callbacks
            configuration.trigger = .edge
        case .async:
            configuration.api = .async
        }
    }

    var testDescription: String { "\(self)" }
}
