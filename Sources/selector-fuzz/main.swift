internal import CSelectors

switch FuzzCommand.parse(Array(CommandLine.arguments.dropFirst())) {
case .success(let command):
    exit(command.run())
case .failure(let error) where error.isHelp:
    writeLine(error.message)
    exit(0)
case .failure(let error):
    writeLine("selector-fuzz: \(error.message)", to: 2)
    exit(2)
}
