import Foundation
import Testing
import REGNumPy

/// `reg` with output files that are not plain new files, and inputs that are not plain files.
@Suite("Command line: output and input files")
struct CommandLineFileTests {
    static let distances = try! NumPyArray(shape: [2, 3], float32: [0, 1, 2, 3, 4, 5])
    static let refineOptions = ["--beta", "1", "--delta", "0", "--device", "cpu"]

    /// `reg refine` of `distances` to `output`.
    static func refine(to output: String, from input: String) throws -> CommandLineTool.Outcome {
        try CommandLineTool.run(["refine", input, "-o", output] + refineOptions)
    }

    /// A folder holding `d.npy` (the distances) and what the test adds.
    static func folder() throws -> FileTestFolder {
        let folder = try FileTestFolder()
        try distances.write(to: URL(fileURLWithPath: folder.path("d.npy")))
        return folder
    }

    @Test("-o /dev/null succeeds and /dev/null stays a character device")
    func devNull() throws {
        let folder = try Self.folder()
        let outcome = try Self.refine(to: "/dev/null", from: folder.path("d.npy"))
        #expect(outcome.status == 0, "\(outcome.standardError)")
        var status = stat()
        #expect(stat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR)
        #expect(folder.names == ["d.npy"])
    }

    @Test("-o /dev/full fails with exit status 1: no space left on device")
    func devFull() throws {
        let folder = try Self.folder()
        let outcome = try Self.refine(to: "/dev/full", from: folder.path("d.npy"))
        #expect(outcome.status == 1)
        #expect(outcome.standardError.contains("/dev/full: cannot write: no space left on device"), "\(outcome.standardError)")
    }

    @Test("A symlink output is written through: the link stays, its target gets the array")
    func symlink() throws {
        let folder = try Self.folder()
        try Data("old".utf8).write(to: URL(fileURLWithPath: folder.path("target.npy")))
        try FileManager.default.createSymbolicLink(atPath: folder.path("link.npy"), withDestinationPath: "target.npy")
        let outcome = try Self.refine(to: folder.path("link.npy"), from: folder.path("d.npy"))
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder.path("link.npy")) == "target.npy")
        let written = try NumPyArray(contentsOf: URL(fileURLWithPath: folder.path("target.npy")))
        #expect(written.shape == [2, 3] && written.dtype == .float32)
        #expect(folder.names == ["d.npy", "link.npy", "target.npy"])
    }

    @Test("A read-only output (chmod 444) and a folder are refused by name before any input is read")
    func refusedBeforeReading() throws {
        let folder = try Self.folder()
        try Data("keep".utf8).write(to: URL(fileURLWithPath: folder.path("ro.npy")))
        chmod(folder.path("ro.npy"), 0o444)
        let cases = [(folder.path("ro.npy"), "ro.npy: cannot write: file is read-only"),
                     (folder.url.path, "\(folder.url.path): cannot write: is a directory")]
        for (output, message) in cases {
            // The input is missing too: the output is checked first, so its error is the one seen.
            let outcome = try Self.refine(to: output, from: folder.path("missing.npy"))
            #expect(outcome.status == 1)
            #expect(outcome.standardError.contains(message), "\(outcome.standardError)")
        }
        #expect(try folder.bytes("ro.npy") == Data("keep".utf8))
        #expect(folder.names == ["d.npy", "ro.npy"])
    }

    /// Logits and targets for `reg loss` with per-element outputs.
    static func lossFolder() throws -> FileTestFolder {
        let folder = try FileTestFolder()
        try NumPyArray(shape: [4, 3], float32: (0..<12).map { Float($0) / 4 - 1 }).write(to: URL(fileURLWithPath: folder.path("l.npy")))
        try NumPyArray(shape: [4, 3], float32: (0..<12).map { $0 % 4 == 0 ? 1 : 0 }).write(to: URL(fileURLWithPath: folder.path("t.npy")))
        return folder
    }

    static func loss(_ folder: FileTestFolder, gradient: String, loss: String) -> [String] {
        ["loss", "--logits", folder.path("l.npy"), "--targets", folder.path("t.npy"), "--reduction", "none",
         "--grad-out", gradient, "--loss-out", loss, "--device", "cpu"]
    }

    @Test("With several outputs, one that cannot be written (before or while writing) means none is written")
    func allOrNone() throws {
        let folder = try Self.lossFolder()
        try Data("keep".utf8).write(to: URL(fileURLWithPath: folder.path("ro.npy")))
        chmod(folder.path("ro.npy"), 0o444)
        let cases = [(folder.path("ro.npy"), "ro.npy: cannot write: file is read-only"),
                     ("/dev/full", "/dev/full: cannot write: no space left on device")]
        for (bad, message) in cases {
            let outcome = try CommandLineTool.run(Self.loss(folder, gradient: folder.path("g.npy"), loss: bad))
            #expect(outcome.status == 1)
            #expect(outcome.standardError.contains(message), "\(outcome.standardError)")
            #expect(folder.names == ["l.npy", "ro.npy", "t.npy"], "no gradient and no temporary file next to \(bad)")
        }
        let good = try CommandLineTool.run(Self.loss(folder, gradient: folder.path("g.npy"), loss: folder.path("e.npy")))
        #expect(good.status == 0, "\(good.standardError)")
        #expect(folder.names == ["e.npy", "g.npy", "l.npy", "ro.npy", "t.npy"])
    }

    @Test("SIGTERM while outputs are being written removes the temporary files")
    func interrupted() throws {
        let folder = try Self.lossFolder()
        // The loss output is a FIFO nobody reads: reg has written the gradient's temporary file and
        // waits, blocked in open(2), when the signal comes.
        #expect(mkfifo(folder.path("fifo"), 0o600) == 0)
        let process = Process()
        process.executableURL = try CommandLineTool.executable
        process.arguments = Self.loss(folder, gradient: folder.path("g.npy"), loss: folder.path("fifo"))
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(5)
        while folder.temporaries.isEmpty && Date() < deadline { usleep(5_000) }
        let staged = folder.temporaries
        kill(process.processIdentifier, staged.isEmpty ? SIGKILL : SIGTERM)
        let stop = Date().addingTimeInterval(5)
        while process.isRunning && Date() < stop { usleep(5_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) } // never hang the suite
        process.waitUntilExit()
        #expect(staged.count == 1, "the gradient's temporary file appears")
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGTERM,
                "reg dies of the signal, as without the handler")
        #expect(folder.names == ["fifo", "l.npy", "t.npy"])
    }

    /// Runs `reg` with `input` on its standard input, through a pipe.
    static func run(_ arguments: [String], input: Data) throws -> CommandLineTool.Outcome {
        let process = Process()
        process.executableURL = try CommandLineTool.executable
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        (process.standardInput, process.standardOutput, process.standardError) = (stdin, stdout, stderr)
        try process.run()
        let writer = Thread {
            try? stdin.fileHandleForWriting.write(contentsOf: input)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandLineTool.Outcome(status: process.terminationStatus, standardOutput: String(decoding: out, as: UTF8.self),
                                       standardError: String(decoding: err, as: UTF8.self))
    }

    @Test("A pipe is read as `-` and as /dev/stdin")
    func pipeInput() throws {
        let folder = try FileTestFolder()
        let outcome = try Self.run(["refine", "-", "-o", folder.path("g.npy")] + Self.refineOptions, input: Self.distances.npyData())
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let weights = try NumPyArray(contentsOf: URL(fileURLWithPath: folder.path("g.npy")))
        #expect(weights.shape == [2, 3] && weights.dtype == .float32)

        let labels = try NumPyArray(shape: [3, 4], uint8: [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2])
        let edt = try Self.run(["edt", "/dev/stdin", "-o", folder.path("e.npy"), "--device", "cpu"], input: labels.npyData())
        #expect(edt.status == 0, "\(edt.standardError)")
        #expect(try NumPyArray(contentsOf: URL(fileURLWithPath: folder.path("e.npy"))).shape == [2, 3, 4])

        let garbage = try Self.run(["refine", "-", "-o", folder.path("h.npy")] + Self.refineOptions, input: Data("hello".utf8))
        #expect(garbage.status == 1 && garbage.standardError.contains("<stdin>: "), "\(garbage.standardError)")
    }

    @Test("A folder or a missing file as input: an error naming the path and the reason")
    func unreadableInput() throws {
        let folder = try FileTestFolder()
        let cases = [(folder.url.path, "\(folder.url.path): cannot read: is a directory"),
                     (folder.path("missing.npy"), "missing.npy: cannot read: no such file or directory")]
        for (input, message) in cases {
            let outcome = try Self.refine(to: folder.path("g.npy"), from: input)
            #expect(outcome.status == 1)
            #expect(outcome.standardError.contains(message), "\(outcome.standardError)")
        }
        #expect(folder.names.isEmpty)
    }
}
