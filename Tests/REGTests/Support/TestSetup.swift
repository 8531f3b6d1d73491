import Foundation

/// The package's root folder (tests that run tools, compilers or Python from the checkout).
enum PackageRoot {
    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
}

/// Why a test's set-up (a venv, a compiled client) could not be made: the test fails with it.
struct SetupFailure: Error, CustomStringConvertible {
    let description: String
}

/// A program run to its end from the package root.
struct ProcessOutcome {
    let status: Int32
    let output: String
    let error: String

    /// Runs `executable` (a path, or a name looked up on PATH through /usr/bin/env) with
    /// `arguments`; standard error goes through a file, so that neither stream can fill its pipe
    /// while the other is read. A program that cannot start gives status -1.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) -> ProcessOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.currentDirectoryURL = PackageRoot.url
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("reg-test-\(UUID().uuidString).err")
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let output = Pipe()
        process.standardOutput = output
        do {
            _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
            let errorHandle = try FileHandle(forWritingTo: errorFile)
            defer { try? errorHandle.close() }
            process.standardError = errorHandle
            try process.run()
        } catch {
            return ProcessOutcome(status: -1, output: "", error: "cannot run \(executable): \(error)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errorData = (try? Data(contentsOf: errorFile)) ?? Data()
        return ProcessOutcome(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self),
                              error: String(decoding: errorData, as: UTF8.self))
    }
}
