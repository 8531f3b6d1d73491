import Foundation
import Testing
import REG
import REGNumPy
import REGRuntime

/// `reg`'s option handling end to end: values that start with '-', messages that name the option
/// (or REG_DEVICE, or the file) and the value, the subcommand's usage line, `--version`, and the
/// `reference` device name.
@Suite("Command line: options, their errors and usage")
struct CommandLineOptionTests {
    typealias Scratch = CommandLineArrayTests.Scratch

    /// A scratch folder with a (2, 2) detection problem: z.npy logits and t.npy targets.
    static func detectionFiles() throws -> Scratch {
        let scratch = try Scratch()
        try NumPyArray(shape: [2, 2], float32: [0, 1, 2, 3]).write(to: URL(fileURLWithPath: scratch.path("z.npy")))
        try NumPyArray(shape: [2, 2], float32: [0, 1, 1, 0]).write(to: URL(fileURLWithPath: scratch.path("t.npy")))
        return scratch
    }

    @Test("A negative value is parsed, then refused by name and value (not \"Missing value\")", arguments: [
        (["--gamma", "-1"], "--gamma: must be ≥ 0, got -1"),
        (["--sigma", "-0.1"], "--sigma: must be ≥ 0, got -0.1"),
        (["--pos-fraction", "-0.5"], "--pos-fraction: must be in [0, 1], got -0.5"),
        (["--alpha", "-1,2"], "--alpha: entry 0 must be finite and ≥ 0, got -1"),
    ])
    func negativeLossOptions(option: [String], message: String) throws {
        let scratch = try Self.detectionFiles()
        let outcome = try CommandLineTool.run(["loss", "--logits", scratch.path("z.npy"), "--targets", scratch.path("t.npy"),
                                               "--device", "reference"] + option)
        #expect(outcome.status == 64, "\(outcome.standardError)")
        #expect(outcome.standardError.hasPrefix("Error: \(message)\n"), "\(outcome.standardError)")
        #expect(!outcome.standardError.contains("Missing value"))
    }

    @Test("Negative values of the other subcommands' numeric options name the option and the value", arguments: [
        (["edt", "l.npy", "-o", "o.npy", "--spacing", "-1,1"], "--spacing: SY must be > 0, got -1"),
        (["edt", "l.npy", "-o", "o.npy", "--classes", "-2"], "--classes: must be in 1…254 (255 is the ignore label), got -2"),
        (["box-distance", "--points", "p.npy", "--boxes", "b.npy", "-o", "o.npy", "--classes", "-1"], "--classes: must be ≥ 1, got -1"),
        (["check", "--cases", "-3"], "--cases: must be ≥ 1, got -3"),
        (["demo", "--size", "-8"], "--size: must be a multiple of 16 in 16…1024, got -8"),
    ])
    func negativeOtherOptions(arguments: [String], message: String) throws {
        let outcome = try CommandLineTool.run(arguments)
        #expect(outcome.status == 64, "\(outcome.standardError)")
        #expect(outcome.standardError.hasPrefix("Error: \(message)\n"), "\(outcome.standardError)")
        #expect(outcome.standardError.contains("Usage: reg \(arguments[0]) "), "\(outcome.standardError)")
    }

    @Test("--build-options takes a value that starts with '-', as `reg check --help` suggests")
    func buildOptionsWithDash() throws {
        let outcome = try CommandLineTool.run(["check", "--build-options", "-cl-fast-relaxed-math", "--cases", "2",
                                               "--only", "refinement", "--device", "0"])
        #expect(!outcome.standardError.contains("Missing value"), "\(outcome.standardError)")
        #expect(outcome.status == 0 || outcome.status == 1, "\(outcome.standardError)")
        #expect(outcome.standardOutput.contains("build options -cl-fast-relaxed-math"), "\(outcome.standardOutput)")
    }

    @Test("A REG_DEVICE that names no device is blamed on REG_DEVICE, not --device",
          arguments: [("99", "device index 99 does not exist"), ("no such gpu", "no OpenCL device matches 'no such gpu'")])
    func environmentDeviceErrors(value: String, reason: String) throws {
        let scratch = try Scratch()
        try NumPyArray(shape: [3], float32: [0, 1, 2]).write(to: URL(fileURLWithPath: scratch.path("d.npy")))
        let outcome = try CommandLineTool.run(["refine", scratch.path("d.npy"), "-o", scratch.path("g.npy"),
                                               "--beta", "1", "--delta", "1"], environment: ["REG_DEVICE": value])
        #expect(outcome.status == 64)
        #expect(outcome.standardError.hasPrefix("Error: REG_DEVICE=\(value): \(reason)"), "\(outcome.standardError)")
        #expect(!outcome.standardError.contains("--device:"))
        // The explicit option still names itself.
        let explicit = try CommandLineTool.run(["refine", scratch.path("d.npy"), "-o", scratch.path("g.npy"),
                                                "--beta", "1", "--delta", "1", "--device", value],
                                               environment: ["REG_DEVICE": "reference"])
        #expect(explicit.standardError.hasPrefix("Error: --device: \(reason)"), "\(explicit.standardError)")
    }

    @Test("reg check names REG_DEVICE when it selects the CPU reference")
    func checkNamesEnvironment() throws {
        let outcome = try CommandLineTool.run(["check"], environment: ["REG_DEVICE": "cpu"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.contains("(REG_DEVICE=cpu selects the CPU reference)"), "\(outcome.standardOutput)")
    }

    @Test("reg edt of an (H, W) file names a bad element [y, x], of a (B, H, W) file [b, y, x]")
    func edtElementIndices() throws {
        let scratch = try Scratch()
        try NumPyArray(shape: [2, 2], int32: [0, 1, 300, 2]).write(to: URL(fileURLWithPath: scratch.path("l2.npy")))
        try NumPyArray(shape: [1, 2, 2], int32: [0, 1, 300, 2]).write(to: URL(fileURLWithPath: scratch.path("l3.npy")))
        for device in ["0", "reference"] {
            let single = try CommandLineTool.run(["edt", scratch.path("l2.npy"), "-o", scratch.path("o.npy"),
                                                  "--classes", "2", "--device", device])
            #expect(single.status == 1)
            #expect(single.standardError.contains("l2.npy[1, 0]: is 300"), "\(device): \(single.standardError)")
            let batch = try CommandLineTool.run(["edt", scratch.path("l3.npy"), "-o", scratch.path("o.npy"),
                                                 "--classes", "2", "--device", device])
            #expect(batch.status == 1)
            #expect(batch.standardError.contains("l3.npy[0, 1, 0]: is 300"), "\(device): \(batch.standardError)")
        }
    }

    @Test("reg edt of a map wider than 32768 pixels is an error naming the file and the limit")
    func edtWidthLimit() throws {
        let scratch = try Scratch()
        try NumPyArray(shape: [1, 32769], uint8: [UInt8](repeating: 0, count: 32769))
            .write(to: URL(fileURLWithPath: scratch.path("wide.npy")))
        let outcome = try CommandLineTool.run(["edt", scratch.path("wide.npy"), "-o", scratch.path("o.npy"),
                                               "--classes", "1", "--device", "reference"])
        #expect(outcome.status == 1)
        #expect(outcome.standardError.contains("wide.npy: labels of shape [1, 32769]: width must be at most 32768, got 32769"),
                "\(outcome.standardError)")
    }

    @Test("--counts takes positive whole numbers", arguments: [
        ("1.5,2", "--counts: entry 0 '1.5' must be a positive whole number"),
        ("200,x", "--counts: entry 1 'x' must be a positive whole number"),
    ])
    func countsAreWholeNumbers(counts: String, message: String) throws {
        let scratch = try Self.detectionFiles()
        let outcome = try CommandLineTool.run(["loss", "--logits", scratch.path("z.npy"), "--targets", scratch.path("t.npy"),
                                               "--counts", counts, "--device", "reference"])
        #expect(outcome.status == 64)
        #expect(outcome.standardError.hasPrefix("Error: \(message)\n"), "\(outcome.standardError)")
    }

    @Test("A usage error found in run() shows the subcommand's usage, not the root's")
    func usageOfTheSubcommand() throws {
        let scratch = try Self.detectionFiles()
        let outcome = try CommandLineTool.run(["loss", "--logits", scratch.path("z.npy"), "--targets", scratch.path("t.npy"),
                                               "--alpha", "1,2,3", "--device", "reference"])
        #expect(outcome.status == 64)
        #expect(outcome.standardError.hasPrefix("Error: --alpha: has 3 values; expected one per class (2)\n"),
                "\(outcome.standardError)")
        #expect(outcome.standardError.contains("Usage: reg loss "), "\(outcome.standardError)")
        #expect(outcome.standardError.contains("See 'reg loss --help' for more information."))
        #expect(!outcome.standardError.contains("reg <subcommand>"))

        let device = try CommandLineTool.run(["demo", "--size", "16", "--steps", "1", "--device", "99"])
        #expect(device.status == 64)
        #expect(device.standardError.contains("Usage: reg demo "), "\(device.standardError)")
        #expect(!device.standardError.contains("reg <subcommand>"))
    }

    @Test("reg --version prints the version")
    func version() throws {
        let outcome = try CommandLineTool.run(["--version"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput == "0.2.0\n", "\(outcome.standardOutput)")
    }

    @Test("The CPU reference is called `reference`; `cpu` and `ref` stay aliases")
    func referenceName() throws {
        #expect(DeviceRequest.reference.description == "reference")
        for name in ["reference", "REFERENCE", "ref", "cpu"] { #expect(DeviceRequest(parsing: name) == .reference) }
        #expect(DeviceSelectionError.noSuchIndex(3, available: 1).description.contains("'reference'"))

        let help = try CommandLineTool.run(["loss", "--help"])
        #expect(help.standardOutput.contains("reference (the float64 CPU"), "\(help.standardOutput)")
        let scratch = try Scratch()
        try NumPyArray(shape: [2], float32: [0, .infinity]).write(to: URL(fileURLWithPath: scratch.path("d.npy")))
        for name in ["reference", "ref", "cpu"] {
            let outcome = try CommandLineTool.run(["refine", scratch.path("d.npy"), "-o", scratch.path("g.npy"),
                                                   "--beta", "1", "--delta", "0", "--device", name])
            #expect(outcome.status == 0, "\(name): \(outcome.standardError)")
            #expect(outcome.standardOutput.contains("on CPU reference (float64)"), "\(name): \(outcome.standardOutput)")
        }
    }
}
