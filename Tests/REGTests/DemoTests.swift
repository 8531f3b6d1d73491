import Foundation
import Testing

/// `reg demo`, the README's main job, in a short run: it trains (the loss falls), and the device
/// and the reference give the same loss curve within tolerance.
@Suite("Demo")
struct DemoTests {
    /// The mean loss of each epoch, from the demo's "epoch k: steps a…b, mean loss X" lines.
    static func epochLosses(_ output: String) -> [Double] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("epoch "), let value = line.split(separator: " ").last else { return nil }
            return Double(value)
        }
    }

    @Test("A short demo run learns, and the device's loss curve is the reference's")
    func shortRun() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reg-demo-\(getpid())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments = ["demo", "--steps", "20", "--batch", "2", "--size", "48", "--eval-scenes", "4"]
        let device = try CommandLineTool.run(arguments + ["--device", "0", "--out", folder.path])
        let reference = try CommandLineTool.run(arguments + ["--device", "reference"])
        #expect(device.status == 0 && reference.status == 0, "\(device.standardError)\(reference.standardError)")
        let onDevice = Self.epochLosses(device.standardOutput), onReference = Self.epochLosses(reference.standardOutput)
        #expect(onDevice.count == 10 && onReference.count == 10, "\(device.standardOutput)")
        #expect(onDevice.last! < 0.7 * onDevice.first!, "the loss falls: \(onDevice)")
        for (d, r) in zip(onDevice, onReference) {
            #expect(abs(d - r) <= 1e-3 * abs(r), "device \(onDevice) vs reference \(onReference)")
        }
        #expect(device.standardOutput.contains("device: OpenCL") && reference.standardOutput.contains("device: CPU reference"))
        #expect(device.standardOutput.contains("mIoU") && device.standardOutput.contains("mAP50"))
        for name in ["loss.svg", "scene.png", "labels.png", "distance.png", "refinement.png", "prediction.png"] {
            let bytes = try Data(contentsOf: folder.appendingPathComponent(name))
            #expect(bytes.count > 100, "\(name)")
            if name.hasSuffix(".png") { #expect(bytes.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "\(name)") }
        }
    }

    @Test("Bad demo options are usage errors naming the option", arguments: [
        (["--size", "50"], "--size"), (["--steps", "0"], "--steps"), (["--learning-rate", "-1"], "--learning-rate"),
        // More scenes than host memory holds: refused with the size, not an aborted allocation.
        (["--size", "1024", "--batch", "100000"], "needs about"),
    ])
    func badOptions(arguments: [String], option: String) throws {
        let outcome = try CommandLineTool.run(["demo"] + arguments)
        #expect(outcome.status == 64 && outcome.standardError.contains(option), "\(outcome.standardError)")
    }

    @Test("The smallest scene (16 px, one grid cell) trains without a crash")
    func smallestScene() throws {
        let outcome = try CommandLineTool.run(["demo", "--steps", "2", "--batch", "1", "--size", "16", "--eval-scenes", "2",
                                               "--device", "reference"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(Self.epochLosses(outcome.standardOutput).count == 2)
    }
}
