import ArgumentParser
import Logging

@main
struct REGCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reg",
        abstract: "Refined Generalized Focal Loss on OpenCL devices, with a float64 CPU reference.",
        subcommands: [DevicesCommand.self, LossCommand.self, EdtCommand.self, BoxDistanceCommand.self, RefineCommand.self,
                      CheckCommand.self, BenchCommand.self, DemoCommand.self]
    )

    static func main() {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
