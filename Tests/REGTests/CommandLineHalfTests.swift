import Foundation
import Testing
@testable import REG
import REGNumPy

/// `reg step` and `reg loss` on float16 (`<f2`) arrays: read as float16, gradients written as
/// `<f2` by default (or `--gradient-dtype`), against the reference on the same half values.
@Suite("Command line: float16")
struct CommandLineHalfTests {
    typealias Scratch = CommandLineArrayTests.Scratch

    static func halves(_ values: [Float]) -> [Float16] { values.map { Float16($0) } }
    static func widened(_ values: [Float16]) -> [Float] { values.map(Float.init) }

    /// A gradient array: float16 values within one half ulp of `reference` rounded to half, or, on
    /// the reference, exactly it.
    static func expectHalf(_ array: NumPyArray, _ reference: [Float], exact: Bool, _ what: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard case .float16(let values) = array.storage else {
            Issue.record("\(what): \(array.dtype), expected float16", sourceLocation: sourceLocation)
            return
        }
        if exact {
            #expect(values == reference.map { Float16($0) }, "\(what)", sourceLocation: sourceLocation)
        } else {
            FocalLossHalfTests.expectHalfOfReference(Self.widened(values), reference.map(Double.init), what)
        }
    }

    @Test("reg step on a float16 batch: float16 gradients by default, float32 with --gradient-dtype f32",
          arguments: ["0", "reference"])
    func step(device: String) throws {
        let scratch = try Scratch()
        var arrays = StepFixtures.batch(samples: 80, detectionClasses: 3, images: 2, segmentationBatch: 2,
                                        segmentationClasses: 3, side: 10, sigmaMaps: true, seed: 41)
        // The values the step sees: rounded to half.
        arrays.detection!.logits = Self.widened(Self.halves(arrays.detection!.logits))
        arrays.detection!.sigma = Self.widened(Self.halves(arrays.detection!.sigma!))
        arrays.segmentation!.logits = Self.widened(Self.halves(arrays.segmentation!.logits))
        var archive = try StepCommandTests.archive(arrays)
        let d = arrays.detection!, s = arrays.segmentation!
        archive["det_logits"] = try NumPyArray(shape: [d.samples, d.classes], float16: Self.halves(d.logits))
        archive["det_targets"] = try NumPyArray(shape: [d.samples, d.classes], float16: Self.halves(d.targets))
        archive["det_sigma"] = try NumPyArray(shape: [d.samples, d.classes], float16: Self.halves(d.sigma!))
        archive["seg_logits"] = try NumPyArray(shape: [s.batch, s.classes, s.height, s.width], float16: Self.halves(s.logits))
        archive["seg_sigma"] = try NumPyArray(shape: [s.batch, s.classes, s.height, s.width], float32: s.sigma!)
        try archive.write(toPath: scratch.path("half.npz"))
        let expected = try Engine(device: .reference, environment: [:]).step(arrays, try StepCommandTests.settings)

        let outcome = try CommandLineTool.run(["step", scratch.path("half.npz"), "-o", scratch.path("g16.npz"), "--json",
                                               "--device", device] + StepCommandTests.options)
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let summary = try StepCommandTests.json(outcome)
        let total = try #require(summary["total"] as? Double)
        #expect(abs(total - expected.result.total) <= 1e-5 * abs(expected.result.total))
        let grads = try NumPyArchive(contentsOf: URL(fileURLWithPath: scratch.path("g16.npz")))
        #expect(grads.names == ["det_logits_grad", "det_sigma_grad", "seg_logits_grad", "seg_sigma_grad"])
        let exact = device == "reference"
        try Self.expectHalf(try grads.array("det_logits_grad"), expected.detectionGradient, exact: exact, "det_logits_grad")
        try Self.expectHalf(try grads.array("det_sigma_grad"), expected.detectionSigmaGradient!, exact: exact, "det_sigma_grad")
        try Self.expectHalf(try grads.array("seg_logits_grad"), expected.segmentationGradient, exact: exact, "seg_logits_grad")
        try Self.expectHalf(try grads.array("seg_sigma_grad"), expected.segmentationSigmaGradient!, exact: exact, "seg_sigma_grad")

        let float32 = try CommandLineTool.run(["step", scratch.path("half.npz"), "-o", scratch.path("g32.npz"), "--json",
                                               "--gradient-dtype", "f32", "--device", device] + StepCommandTests.options)
        #expect(float32.status == 0, "\(float32.standardError)")
        try StepCommandTests.compare(try StepCommandTests.json(float32), gradients: scratch.path("g32.npz"), with: expected)
    }

    @Test("reg loss on <f2 logits and targets, and float16 gradients of float32 logits", arguments: ["0", "reference"])
    func loss(device: String) throws {
        let scratch = try Scratch()
        let (logits32, targets32) = FocalLossFixtures.detection(samples: 300, classes: 5, seed: 42)
        let logits = Self.halves(logits32), targets = Self.halves(targets32)
        try NumPyArray(shape: [300, 5], float16: logits).write(to: URL(fileURLWithPath: scratch.path("z16.npy")))
        try NumPyArray(shape: [300, 5], float16: targets).write(to: URL(fileURLWithPath: scratch.path("y16.npy")))
        try NumPyArray(shape: [300, 5], float32: Self.widened(logits)).write(to: URL(fileURLWithPath: scratch.path("z32.npy")))
        let settings = FocalLoss(gamma: 2, normalizer: .positives)
        let expected = try FocalLossReference.focalLoss(detection: Self.widened(logits), targets: Self.widened(targets),
                                                        samples: 300, classes: 5, settings)
        let reference32 = expected.gradient.map { Float($0) }
        let exact = device == "reference"
        for (z, dtype, half) in [("z16.npy", nil, true), ("z16.npy", "f32", false), ("z32.npy", "f16", true)] as [(String, String?, Bool)] {
            let out = scratch.path("g-\(z)-\(dtype ?? "default").npy")
            let outcome = try CommandLineTool.run(["loss", "--logits", scratch.path(z), "--targets", scratch.path("y16.npy"),
                                                   "--normalizer", "positives", "--grad-out", out, "--json", "--device", device]
                                                  + (dtype.map { ["--gradient-dtype", $0] } ?? []))
            #expect(outcome.status == 0, "\(outcome.standardError)")
            let summary = try StepCommandTests.json(outcome)
            let loss = try #require(summary["loss"] as? Double)
            #expect(abs(loss - expected.exactLoss) <= 1e-5 * abs(expected.exactLoss), "\(z) \(dtype ?? "")")
            #expect(summary["positives"] as? Int == expected.positives)
            let gradient = try NumPyArray(contentsOf: URL(fileURLWithPath: out))
            if half {
                try Self.expectHalf(gradient, reference32, exact: exact, "\(z) \(dtype ?? "default")")
            } else {
                #expect(gradient.dtype == .float32)
                FocalLossDeviceTests.expectGradient(try gradient.floats(), expected.gradient, "\(z) f32")
            }
        }
        let bad = try CommandLineTool.run(["loss", "--logits", scratch.path("z16.npy"), "--targets", scratch.path("y16.npy"),
                                           "--gradient-dtype", "bf16"])
        #expect(bad.status == 64 && bad.standardError.contains("--gradient-dtype"), "\(bad.standardError)")
    }
}
