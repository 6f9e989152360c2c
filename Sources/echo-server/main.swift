// The echo-server command: all of it lives in EchoService so tests can drive it in-process.
import EchoService

EchoServerCommand.main(Array(CommandLine.arguments.dropFirst()))
