import EchoService
import Testing

extension CommandLineTests {
    @Test func totalWaterMarksAreReadAndKeptOrdered() throws {
        let configuration = try EchoServerCommand.parse([
            "--total-high-water", "8000000", "--total-low-water=1000000",
        ]).configuration
        #expect(configuration.totalHighWaterMark == 8_000_000)
        #expect(configuration.totalLowWaterMark == 1_000_000)
        let defaults = try EchoServerCommand.parse([]).configuration
        #expect(defaults.totalHighWaterMark == 64 << 20 && defaults.totalLowWaterMark == 48 << 20)
        // A high mark alone, below the default low one, brings the low one down with it.
        let lowered = try EchoServerCommand.parse(["--total-high-water", "4000"]).configuration
        #expect(lowered.totalLowWaterMark == 3000)
        for arguments in [
            ["--total-high-water", "0"], ["--total-high-water", "0x10"], ["--total-low-water", "-1"],
            ["--total-high-water", "4000", "--total-low-water", "4000"],
        ] {
            #expect(throws: EchoServerCommand.UsageError.self, "\(arguments)") {
                try EchoServerCommand.parse(arguments)
            }
        }
    }
}
