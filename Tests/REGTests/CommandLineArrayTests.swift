import Foundation
import Testing
import REG
import REGNumPy

/// Subcommands that read and write `.npy` files, end to end.
@Suite("Command line: arrays through .npy files")
struct CommandLineArrayTests {
    /// A scratch folder per test.
    final class Scratch {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reg-cli-\(UUID().uuidString)")
        init() throws { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: folder) }
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    }

    @Test("reg refine on the OpenCL device and on the CPU reference agree through the files, in the input's shape")
    func refineDeviceVersusReference() throws {
        let scratch = try Scratch()
        let distances = RefinementTests.distances(count: 2 * 3 * 167, seed: 5)
        // float64 input: REG rounds it to float32, as it computes.
        try NumPyArray(shape: [2, 3, 167], float64: distances.map(Double.init)).write(to: URL(fileURLWithPath: scratch.path("d.npy")))
        for device in ["0", "cpu"] {
            let outcome = try CommandLineTool.run(["refine", scratch.path("d.npy"), "-o", scratch.path("g-\(device).npy"),
                                                   "--beta", "-0.75", "--delta", "12", "--device", device])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(outcome.standardOutput.contains(device == "cpu" ? "CPU reference" : "OpenCL"))
        }
        let onDevice = try NumPyArray(contentsOf: URL(fileURLWithPath: scratch.path("g-0.npy")))
        let onReference = try NumPyArray(contentsOf: URL(fileURLWithPath: scratch.path("g-cpu.npy")))
        #expect(onDevice.shape == [2, 3, 167] && onDevice.dtype == .float32 && onReference.shape == [2, 3, 167])
        let expected = try RefinementReference.refine(distances: distances, Refinement(beta: -0.75, delta: 12))
        #expect(try onReference.floats() == expected.map(Float.init), "the reference's file holds the reference")
        let (error, _) = Tolerance.maxAbsoluteError(try onDevice.floats(), expected)
        #expect(error <= 1e-6)
    }

    @Test("A NumPy-written Fortran-order file is read in C order")
    func refineFortranFixture() throws {
        let scratch = try Scratch()
        let outcome = try CommandLineTool.run(["refine", NumPyFixtures.url("f4_fortran_2x3.npy").path, "-o", scratch.path("g.npy"),
                                               "--beta", "0", "--delta", "0", "--device", "cpu"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let g = try NumPyArray(contentsOf: URL(fileURLWithPath: scratch.path("g.npy")))
        #expect(g.shape == [2, 3] && g.storage == .float32([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]))
    }

    @Test("Bad input files are errors naming the file and the problem, with exit status 1")
    func badFiles() throws {
        let scratch = try Scratch()
        try Data("\u{93}NUMPY not really".utf8).write(to: URL(fileURLWithPath: scratch.path("bad.npy")))
        try NumPyArray(shape: [2, 2], float32: [1, 2, .nan, 4]).write(to: URL(fileURLWithPath: scratch.path("nan.npy")))
        let cases: [(String, String)] = [
            (scratch.path("bad.npy"), "bad.npy: not a .npy file"),
            (scratch.path("missing.npy"), "missing.npy: cannot read"),
            (scratch.path("nan.npy"), "nan.npy[1, 0]: is NaN"),
            (NumPyFixtures.url("i2_3.npy").path, "i2_3.npy: dtype '<i2' is not supported"),
        ]
        for (input, message) in cases {
            let outcome = try CommandLineTool.run(["refine", input, "-o", scratch.path("g.npy"), "--beta", "1", "--delta", "0",
                                                   "--device", "cpu"])
            #expect(outcome.status == 1, "\(input)")
            #expect(outcome.standardError.contains(message), "\(outcome.standardError)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path("g.npy")), "nothing written on failure")
        let badBeta = try CommandLineTool.run(["refine", NumPyFixtures.url("f4_2x3.npy").path, "-o", scratch.path("g.npy"),
                                               "--beta", "nan", "--delta", "0"])
        #expect(badBeta.status == 64 && badBeta.standardError.contains("--beta: must be finite"), "\(badBeta.standardError)")
    }
}
