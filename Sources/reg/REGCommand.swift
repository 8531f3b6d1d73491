import ArgumentParser
import Foundation
import Logging
import REG

@main
struct REGCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reg",
        abstract: "Refined Generalized Focal Loss on OpenCL devices, with a float64 CPU reference.",
        version: REGVersion.current,
        subcommands: [DevicesCommand.self, LossCommand.self, EdtCommand.self, BoxDistanceCommand.self, RefineCommand.self,
                      StepCommand.self, MetricsCommand.self, CheckCommand.self, BenchCommand.self, DemoCommand.self]
    )

    static func main() {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        OutputFiles.installInterruptCleanup()
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let error as ValidationError {
            // ArgumentParser attaches the usage of the command it was given (the root) to an error
            // thrown from run(); a usage error from a subcommand shows that subcommand's usage, as
            // the same error from validate() would.
            exitWithUsageError(error, of: type(of: command))
        } catch {
            exit(withError: error)
        }
    }

    /// Prints `Error: …`, the usage of `subcommand` and where to find its help; exits 64.
    static func exitWithUsageError(_ error: ValidationError, of subcommand: any ParsableCommand.Type) -> Never {
        guard ObjectIdentifier(subcommand) != ObjectIdentifier(Self.self), let name = subcommand.configuration.commandName else {
            exit(withError: error)
        }
        let usage = usageString(for: subcommand)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .joined(separator: "\n       ")
        let text = """
            Error: \(error.message)
            Usage: \(usage)
              See '\(configuration.commandName ?? "reg") \(name) --help' for more information.

            """
        FileHandle.standardError.write(Data(text.utf8))
        exit(withError: ExitCode.validationFailure)
    }
}
