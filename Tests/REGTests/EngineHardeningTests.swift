import Foundation
import Testing
import REGNumPy
import REGRuntime
@testable import REG

/// Regression tests of the hardening issue: each failed on the code before it.
@Suite("Engine hardening")
struct EngineHardeningTests {
    /// The kernels' test hook: only the focal variant that reads distances fails to build, with one
    /// compiler error that says it is on purpose.
    static let breakRefinement = "-DREG_FAIL_BUILD=2"

    @Test("Finite logits of 1e37 overflow the float32 sum: the call is recomputed on the reference")
    func overflowRecomputed() throws {
        let log = LogRecorder()
        let engine = try Engine(device: .index(0), logger: log.logger, environment: [:])
        let (samples, classes) = (100, 7)
        let logits = [Float](repeating: 1e37, count: samples * classes)
        let targets = [Float](repeating: 0, count: samples * classes)
        let result = try engine.focalLoss(detection: logits, targets: targets, samples: samples, classes: classes,
                                          FocalLoss())
        let input = try FocalLossInput(detection: logits, targets: targets, samples: samples, classes: classes, FocalLoss())
        let expected = try FocalLossReference.evaluate(input)
        #expect(result.loss.isFinite && result.sum.isFinite, "loss \(result.loss), sum \(result.sum)")
        #expect(abs(result.sum - expected.sum) <= 1e-5 * expected.sum)
        #expect(result.gradient.allSatisfy { $0.isFinite })
        #expect(result.backend == .reference)
        #expect(log.warnings.count == 1 && log.warnings[0].contains("recomputed"), "\(log.warnings)")
        #expect(engine.device != nil, "an overflow is not a device failure: the engine keeps its device")
        // The next ordinary call runs on the device again.
        let small = try engine.focalLoss(detection: [1, -1], targets: [1, 0], samples: 1, classes: 2, FocalLoss())
        #expect(small.backend == engine.backend && small.backend != .reference)
    }

    @Test("Under .throwError an overflow is thrown, not silently recomputed")
    func overflowThrows() throws {
        let engine = try Engines.device()
        let logits = [Float](repeating: 1e37, count: 700)
        #expect(throws: DeviceOverflow.self) {
            _ = try engine.focalLoss(detection: logits, targets: .init(repeating: 0, count: 700), samples: 100,
                                     classes: 7, FocalLoss())
        }
    }

    @Test(".throwError throws a build failure on every call, never the reference's result")
    func throwErrorEveryTime() throws {
        let engine = try Engine(device: .index(0), fallback: .throwError,
                                configuration: .init(buildOptions: Self.breakRefinement), environment: [:])
        for _ in 0..<3 {
            #expect(throws: OpenCLError.self) {
                _ = try engine.focalLoss(detection: [1], targets: [1], samples: 1, classes: 1,
                                         FocalLoss(spatial: .distances([2], Refinement(beta: 1, delta: 0))))
            }
        }
    }

    @Test("A focal variant that does not build moves the focal loss alone to the reference")
    func variantBuildFailure() throws {
        let log = LogRecorder()
        let engine = try Engine(device: .index(0), configuration: .init(buildOptions: Self.breakRefinement),
                                logger: log.logger, environment: [:])
        let device = engine.backend
        let logits: [Float] = [2, -1, 0.5, 3], targets: [Float] = [1, 0, 0, 1]
        let plain = try engine.focalLoss(detection: logits, targets: targets, samples: 2, classes: 2, FocalLoss())
        #expect(plain.backend == device, "the plain variant builds and runs on the device")

        let refined = FocalLoss(spatial: .distances([0, 5, .infinity, 2], Refinement(beta: 1, delta: 1)))
        let result = try engine.focalLoss(detection: logits, targets: targets, samples: 2, classes: 2, refined)
        let input = try FocalLossInput(detection: logits, targets: targets, samples: 2, classes: 2, refined)
        #expect(abs(Double(result.loss) - (try FocalLossReference.evaluate(input)).loss) <= 1e-6)
        #expect(result.backend == .reference)
        #expect(log.warnings.count == 1 && log.warnings[0].contains("do not build"), "\(log.warnings)")

        // Every other operation stays on the device.
        #expect(engine.device != nil)
        let (maps, backend) = try engine.reporting {
            try $0.distanceTransform(labels: [UInt8]([0, 1, 0, 0]), batch: 1, height: 2, width: 2, classes: 1)
        }
        #expect(maps == [1, 0, 1.4142135, 1] && backend == device)
    }

    @Test("Engine.reporting names the backend of the calls inside it")
    func reportingBackend() throws {
        let reference = try Engines.reference()
        let onReference = try reference.reporting { try $0.refine(distances: [1], Refinement(beta: 1, delta: 0)) }
        #expect(onReference.backend == .reference)
        let device = try Engines.device()
        let onDevice = try device.reporting { try $0.refine(distances: [1], Refinement(beta: 1, delta: 0)) }
        #expect(onDevice.backend == device.backend && onDevice.backend != .reference)
    }

    @Test("A program keeps its context alive: DeviceContext(device:).program(source:).kernel(_:) works")
    func programOwnsContext() throws {
        let device = try #require(try Device.all().first)
        let kernel = try DeviceContext(device: device)
            .program(source: "__kernel void twice(__global float *x) { x[get_global_id(0)] *= 2.0f; }")
            .kernel("twice")
        let buffer = try Buffer<Float>(context: kernel.program.context, copying: [1, 2, 3, 4])
        try kernel.setArgument(0, buffer)
        try kernel.launch(global: [4], local: nil).wait()
        #expect(try buffer.read() == [2, 4, 6, 8])
    }

    @Test("Too large for the device or the host: OutOfMemory says how much, before any allocation")
    func outOfMemory() throws {
        let device = try #require(try Device.all().first)
        let maps = MemoryNeeds(hostBytes: 0, referenceHostBytes: 0, deviceBytes: 5 << 40, largestBuffer: 4 << 40,
                               remedy: "use fewer classes")
        let error = try #require(throws: OutOfMemory.self) { try maps.requireDevice(device, "distance-transform") }
        #expect(error.description.contains("4.0 TiB") && error.description.contains("--device reference"),
                "\(error)")
        let host = try #require(throws: OutOfMemory.self) {
            try maps.requireHost(3 << 30, "distance-transform", available: 1 << 30)
        }
        #expect(host.description == "distance-transform needs 3.0 GiB of host memory, but only 1.0 GiB is available; use fewer classes")
        #expect(HostMemory.availableBytes().map { $0 > 0 } == true)
    }

    @Test("reg edt under `ulimit -v 4000000`: 2048² labels × 254 classes is an error naming the size, not SIGABRT",
          arguments: ["reference", "0"])
    func edtOutOfMemory(device: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reg-oom-\(getpid())-\(device)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var labels = [UInt8](repeating: 0, count: 2048 * 2048)
        labels[0] = 254
        let input = folder.appendingPathComponent("labels.npy")
        try NumPyArray(shape: [2048, 2048], uint8: labels).write(to: input)
        let output = folder.appendingPathComponent("maps.npy")
        let command = "ulimit -v 4000000; exec \"$0\" edt \"$1\" -o \"$2\" --device \(device)"
        let outcome = try CommandLineTool.runShell(command, arguments: [input.path, output.path])
        #expect(outcome.status == 1, "status \(outcome.status): \(outcome.standardError)")
        // On the device, the 4 GiB output is also more than PoCL's largest buffer (2 GiB here): either
        // place may be named, with the size.
        #expect(outcome.standardError.contains("distance-transform needs 4.0 GiB of "), "\(outcome.standardError)")
        #expect(outcome.standardError.contains("fewer classes"), "\(outcome.standardError)")
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    @Test("reg loss --json on 1e37 logits: a finite loss from the reference, named as such, no NaN",
          arguments: ["samples", "positives"])
    func lossOverflowThroughTheCommandLine(normalizer: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reg-overflow-\(getpid())-\(normalizer)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let logits = folder.appendingPathComponent("logits.npy"), targets = folder.appendingPathComponent("targets.npy")
        try NumPyArray(shape: [100, 7], float32: .init(repeating: 1e37, count: 700)).write(to: logits)
        try NumPyArray(shape: [100, 7], float32: .init(repeating: 0, count: 700)).write(to: targets)
        let grad = folder.appendingPathComponent("grad.npy")
        let outcome = try CommandLineTool.run(["loss", "--logits", logits.path, "--targets", targets.path, "--json",
                                               "--normalizer", normalizer, "--grad-out", grad.path, "--device", "0"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])
        let loss = try #require(json["loss"] as? Double)
        // Σ ℓ = 700 · 1e37 (softplus(z) = z); M = 100 samples, or max(0 positives, 1) = 1.
        let expected = 7e39 / (normalizer == "samples" ? 100 : 1)
        #expect(abs(loss - expected) <= 1e-6 * expected, "\(loss)")
        #expect(json["positives"] as? Int == 0 && json["count"] as? Int == 100)
        #expect((json["device"] as? String)?.hasPrefix("CPU reference") == true, "\(json)")
        #expect(outcome.standardError.contains("recomputed on the CPU reference"))
        #expect(try NumPyArray(contentsOf: grad).floats().allSatisfy { $0.isFinite })
    }

    @Test("A kernel flag the host cannot confirm is a DeviceFault (fails closed), not a silent pass")
    func flagsFailClosed() throws {
        let engine = try Engines.device()
        guard case .openCL(let context) = engine.backend else { return }
        let refinement = try RefinementRoutine(context: context, configuration: engine.configuration)
        let prepared = try refinement.prepare(try RefinementProblem(distances: [1, 2, 3], Refinement(beta: 1, delta: 0)))
        _ = try refinement.enqueue(prepared)
        try prepared.nanFound.write([1]) // as if the kernel had seen a NaN that is not there
        #expect(throws: DeviceFault.self) { _ = try refinement.results(prepared) }

        let focal = try FocalLossRoutine(context: context, configuration: engine.configuration)
        let input = try FocalLossInput(detection: [1, -2], targets: [1, 0], samples: 1, classes: 2, FocalLoss())
        let problem = try focal.prepare(input)
        _ = try focal.enqueue(problem)
        try problem.invalid.write([1, 0])
        #expect(throws: DeviceFault.self) { _ = try focal.results(problem) }
    }
}
