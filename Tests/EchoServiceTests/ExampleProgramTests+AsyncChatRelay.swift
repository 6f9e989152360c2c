import Selectors
import Testing

/// async-chat-relay (Examples/AsyncChatRelay: accepted with `Listener.connections(on:)`, a task
/// per client, the room an actor on the loop) as a child process with real TCP clients on
/// loopback, put through the chat relay's own checks: it must behave the same.
extension ExampleProgramTests {
    @Test(arguments: Backend.available)
    func asyncChatRelayBroadcastsEachCompleteLineToTheOtherClientsOnly(backend: Backend) throws {
        try checkChatRelayBroadcastsEachCompleteLineToTheOtherClientsOnly("async-chat-relay", backend)
    }

    @Test(arguments: Backend.available)
    func asyncChatRelayKicksAClientThatSentNoLineForTheIdleTimeout(backend: Backend) throws {
        try checkChatRelayKicksAClientThatSentNoLineForTheIdleTimeout("async-chat-relay", backend)
    }

    @Test(arguments: Backend.available)
    func asyncChatRelayDropsASlowReaderAndKeepsServingTheOthers(backend: Backend) throws {
        try checkChatRelayDropsASlowReaderAndKeepsServingTheOthers("async-chat-relay", backend)
    }

    @Test func asyncChatRelayAnswersBadArgumentsWithUsageAndStatusTwo() throws {
        try checkChatRelayAnswersBadArgumentsWithUsageAndStatusTwo("async-chat-relay")
    }
}
