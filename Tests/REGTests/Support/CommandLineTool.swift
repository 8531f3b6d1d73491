import Foundation

/// Runs the `reg` executable built beside the test bundle.
enum CommandLineTool {
    struct Outcome {
        let status: Int32
        let standardOutput: String
        let standardError: String
    }

    /// The `reg` binary in the build folder that holds this test bundle.
    static var executable: URL {
        get throws {
            var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = folder.appendingPathComponent("reg")
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
                folder.deleteLastPathComponent()
            }
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "reg beside \(CommandLine.arguments[0])"])
        }
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        try run(executable: try executable, arguments, environment: environment)
    }

    /// Runs `bash -c script` with `$0` the `reg` binary and `$1…` the `arguments` (for `ulimit`
    /// and pipes).
    static func runShell(_ script: String, arguments: [String] = []) throws -> Outcome {
        try run(executable: URL(fileURLWithPath: "/bin/bash"), ["-c", script, try executable.path] + arguments,
                environment: [:])
    }

    private static func run(executable: URL, _ arguments: [String], environment: [String: String]) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        // Read both pipes before waiting, so a chatty child cannot block on a full pipe.
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        let errData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, standardOutput: String(decoding: outData, as: UTF8.self),
                       standardError: String(decoding: errData, as: UTF8.self))
    }
}
