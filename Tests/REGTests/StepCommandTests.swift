import Foundation
import Testing
@testable import REG
@testable import REGDiagnostics
import REGNumPy

/// `reg step` end to end through `.npz` files: batches written by NumPy (both flavours) and by
/// REG's own writer, run on the OpenCL device and on the reference, against
/// `Engine(device: .reference).step` computed here; bad batches and options named by member or
/// option.
@Suite("Command line: step")
struct StepCommandTests {
    typealias Scratch = CommandLineArrayTests.Scratch

    static func fixture(_ name: String) -> String { NumPyArchiveTests.url(name).path }

    /// The arrays of a batch archive as the step takes them, read here independently of the CLI:
    /// `images` is given, or 1 + the largest image index (at least the segmentation batch).
    static func arrays(_ archive: NumPyArchive) throws -> StepArrays {
        var arrays = StepArrays()
        if let logits = archive["seg_logits"] {
            let s = logits.shape
            arrays.segmentation = .init(logits: try logits.floats(), labels: try archive.array("seg_labels").uint8s(),
                                        sigma: try archive["seg_sigma"]?.floats(), batch: s[0], classes: s[1], height: s[2],
                                        width: s[3])
        }
        if let logits = archive["det_logits"] {
            let points = try archive.array("det_points").floats(), boxes = try archive.array("det_boxes").floats()
            let indices = stride(from: 0, to: points.count, by: 3).map { points[$0] } + stride(from: 0, to: boxes.count, by: 6).map { boxes[$0] }
            let images = try archive["det_images"].map { Int(try $0.int64s()[0]) }
                ?? max(Int(indices.max() ?? -1) + 1, arrays.segmentation?.batch ?? 0)
            arrays.detection = .init(logits: try logits.floats(), targets: try archive.array("det_targets").floats(),
                                     points: points, boxes: boxes, sigma: try archive["det_sigma"]?.floats(),
                                     samples: logits.shape[0], classes: logits.shape[1], images: images)
        }
        return arrays
    }

    /// A batch as an archive, written with REG's own writer.
    static func archive(_ arrays: StepArrays) throws -> NumPyArchive {
        var archive = NumPyArchive()
        if let d = arrays.detection {
            archive["det_logits"] = try NumPyArray(shape: [d.samples, d.classes], float32: d.logits)
            archive["det_targets"] = try NumPyArray(shape: [d.samples, d.classes], float32: d.targets)
            archive["det_points"] = try NumPyArray(shape: [d.samples, 3], float32: d.points)
            archive["det_boxes"] = try NumPyArray(shape: [d.boxes.count / 6, 6], float64: d.boxes.map(Double.init))
            archive["det_images"] = try NumPyArray(shape: [], int64: [Int64(d.images)])
        }
        if let s = arrays.segmentation {
            archive["seg_logits"] = try NumPyArray(shape: [s.batch, s.classes, s.height, s.width], float32: s.logits)
            archive["seg_labels"] = try NumPyArray(shape: [s.batch, s.height, s.width], int32: s.labels.map(Int32.init))
        }
        return archive
    }

    static func json(_ outcome: CommandLineTool.Outcome) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])
    }

    /// The printed summary and the gradients file against the reference step.
    static func compare(_ summary: [String: Any], gradients path: String, with expected: StepOutput,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        let total = try #require(summary["total"] as? Double, sourceLocation: sourceLocation)
        #expect(abs(total - expected.result.total) <= 1e-5 * abs(expected.result.total), sourceLocation: sourceLocation)
        for (key, task) in [("det", expected.result.detection), ("seg", expected.result.segmentation)] {
            guard let task else {
                #expect(summary[key] == nil, "\(key) is absent from the batch", sourceLocation: sourceLocation)
                continue
            }
            let printed = try #require(summary[key] as? [String: Any], sourceLocation: sourceLocation)
            let loss = try #require(printed["loss"] as? Double, sourceLocation: sourceLocation)
            #expect(abs(loss - task.loss) <= 1e-5 * abs(task.loss), "\(key)", sourceLocation: sourceLocation)
            #expect(printed["count"] as? Int == task.count && printed["positives"] as? Int == task.positives, "\(key)",
                    sourceLocation: sourceLocation)
        }
        let grads = try NumPyArchive(contentsOf: URL(fileURLWithPath: path))
        var expectedArrays: [(String, [Float])] = []
        if expected.result.detection != nil { expectedArrays.append(("det_logits_grad", expected.detectionGradient)) }
        if expected.result.segmentation != nil { expectedArrays.append(("seg_logits_grad", expected.segmentationGradient)) }
        if let sigma = expected.detectionSigmaGradient { expectedArrays.append(("det_sigma_grad", sigma)) }
        if let sigma = expected.segmentationSigmaGradient { expectedArrays.append(("seg_sigma_grad", sigma)) }
        #expect(grads.names == expectedArrays.map(\.0).sorted(), sourceLocation: sourceLocation)
        for (name, reference) in expectedArrays {
            let array = try grads.array(name)
            #expect(array.dtype == .float32 && array.count == reference.count, "\(name)", sourceLocation: sourceLocation)
            let scale = max(1, Double(reference.map(abs).max() ?? 0))
            let error = Tolerance.maxAbsoluteError(try array.floats(), reference.map(Double.init))
            #expect(error.error <= 1e-5 * scale, "\(name): \(error)", sourceLocation: sourceLocation)
        }
    }

    static let options = ["--lambda", "0.7", "--det-counts", "5,3,8", "--det-gamma", "1.5", "--det-normalizer", "positives",
                          "--seg-alpha", "0.5,1,2", "--seg-activation", "softmax", "--seg-beta", "-0.5", "--seg-delta", "3"]

    static var settings: StepSettings {
        get throws {
            StepSettings(
                detection: TaskSettings(alpha: try ClassWeights.alpha(counts: [5, 3, 8], .inverseFrequency), gamma: 1.5,
                                        normalizer: .positives),
                segmentation: TaskSettings(alpha: [0.5, 1, 2], refinement: Refinement(beta: -0.5, delta: 3), activation: .softmax),
                lambda: 0.7)
        }
    }

    @Test("NumPy-written batches (np.savez, np.savez_compressed with σ maps and det_images) on the device and the reference",
          arguments: ["batch_stored.npz", "batch_compressed.npz"], ["0", "reference"])
    func numPyBatches(name: String, device: String) throws {
        let scratch = try Scratch()
        let outcome = try CommandLineTool.run(["step", Self.fixture(name), "-o", scratch.path("g.npz"), "--json",
                                               "--device", device] + Self.options)
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let summary = try Self.json(outcome)
        #expect((summary["device"] as? String)?.hasPrefix(device == "0" ? "OpenCL" : "CPU reference") == true)
        let arrays = try Self.arrays(try NumPyArchive(contentsOf: URL(fileURLWithPath: Self.fixture(name))))
        #expect(arrays.detection?.images == (name == "batch_stored.npz" ? 2 : 3))
        #expect((arrays.detection?.sigma != nil) == (name == "batch_compressed.npz"))
        let expected = try Engine(device: .reference, environment: [:]).step(arrays, try Self.settings)
        try Self.compare(summary, gradients: scratch.path("g.npz"), with: expected)
    }

    @Test("--devices splits the batch across PoCL exposed twice (POCL_DEVICES) and matches the reference")
    func twoDevices() throws {
        let scratch = try Scratch()
        let name = "batch_compressed.npz"
        let outcome = try CommandLineTool.run(["step", Self.fixture(name), "-o", scratch.path("g.npz"), "--json",
                                               "--devices", "0,1"] + Self.options,
                                              environment: ["POCL_DEVICES": "pthread pthread"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let summary = try Self.json(outcome)
        #expect((summary["device"] as? String)?.hasPrefix("OpenCL") == true)
        let arrays = try Self.arrays(try NumPyArchive(contentsOf: URL(fileURLWithPath: Self.fixture(name))))
        let expected = try Engine(device: .reference, environment: [:]).step(arrays, try Self.settings)
        try Self.compare(summary, gradients: scratch.path("g.npz"), with: expected)
        let both = try CommandLineTool.run(["step", Self.fixture(name), "--devices", "0", "--device", "0"])
        #expect(both.status == 64 && both.standardError.contains("--device or --devices"), "\(both.standardError)")
    }

    @Test("Batches written by REG: detection only, segmentation only, detection without refinement or geometry")
    func singleTask() throws {
        let scratch = try Scratch()
        let full = StepFixtures.batch(samples: 60, detectionClasses: 4, images: 3, segmentationBatch: 2,
                                      segmentationClasses: 3, side: 12, seed: 5)
        let engine = try Engine(device: .reference, environment: [:])

        let detection = StepArrays(detection: full.detection)
        try Self.archive(detection).write(toPath: scratch.path("det.npz"))
        let det = try CommandLineTool.run(["step", scratch.path("det.npz"), "-o", scratch.path("gd.npz"), "--json",
                                           "--det-sigma", "0.05", "--det-pos-fraction", "0.25", "--device", "0"])
        #expect(det.status == 0, "\(det.standardError)")
        var settings = StepSettings()
        settings.detection.sigma = 0.05
        settings.detection.positiveFraction = 0.25
        let detSummary = try Self.json(det)
        try Self.compare(detSummary, gradients: scratch.path("gd.npz"), with: try engine.step(detection, settings))
        let sigmaGradient = try #require((detSummary["det"] as? [String: Any])?["sigmaGradient"] as? Double)
        let expectedSigma = try #require(try engine.step(detection, settings).result.detection?.sigmaGradient)
        #expect(abs(sigmaGradient - expectedSigma) <= 1e-5 * max(1, abs(expectedSigma)))

        let segmentation = StepArrays(segmentation: full.segmentation)
        try Self.archive(segmentation).write(toPath: scratch.path("seg.npz"))
        let seg = try CommandLineTool.run(["step", scratch.path("seg.npz"), "-o", scratch.path("gs.npz"), "--json",
                                           "--lambda", "2", "--seg-normalizer", "50", "--device", "0"])
        #expect(seg.status == 0, "\(seg.standardError)")
        try Self.compare(try Self.json(seg), gradients: scratch.path("gs.npz"),
                         with: try engine.step(segmentation, StepSettings(segmentation: TaskSettings(normalizer: .given(50)),
                                                                          lambda: 2)))

        // Without refinement, points and boxes may be left out.
        var bare = try Self.archive(detection)
        bare["det_points"] = nil
        bare["det_boxes"] = nil
        bare["det_images"] = nil
        try bare.write(toPath: scratch.path("bare.npz"))
        let plain = try CommandLineTool.run(["step", scratch.path("bare.npz"), "-o", scratch.path("gb.npz"), "--json",
                                             "--det-no-refinement", "--device", "reference"])
        #expect(plain.status == 0, "\(plain.standardError)")
        try Self.compare(try Self.json(plain), gradients: scratch.path("gb.npz"),
                         with: try engine.step(detection, StepSettings(detection: TaskSettings(refinement: nil))))
        let refined = try CommandLineTool.run(["step", scratch.path("bare.npz"), "--device", "reference"])
        #expect(refined.status == 1 && refined.standardError.contains("bare.npz: the detection task needs det_points, det_boxes"),
                "\(refined.standardError)")
    }

    @Test("Standard input, and the plain summary")
    func standardInputAndPlainOutput() throws {
        let outcome = try CommandLineTool.runShell("\"$0\" step - --device reference < \"$1\"",
                                                   arguments: [Self.fixture("batch_stored.npz")])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let lines = outcome.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(lines)")
        #expect(lines.first?.hasPrefix("total (L_det + λ·L_seg, λ = 1): ") == true)
        #expect(lines.dropFirst().first?.hasPrefix("det: loss ") == true && lines.dropFirst().first?.contains("count 40") == true)
        #expect(lines.dropFirst(2).first?.hasPrefix("seg: loss ") == true)
        #expect(lines.last == "device: CPU reference (float64)")
    }

    @Test("Bad batches name the member and the element (exit 1), bad options name the option (exit 64); outputs stay as they were")
    func errors() throws {
        let scratch = try Scratch()
        let good = try NumPyArchive(contentsOf: URL(fileURLWithPath: Self.fixture("batch_stored.npz")))
        func write(_ name: String, _ change: (inout NumPyArchive) throws -> Void) throws -> String {
            var archive = good
            try change(&archive)
            try archive.write(toPath: scratch.path(name))
            return scratch.path(name)
        }
        let missing = try write("missing.npz") { $0["det_targets"] = nil }
        let nan = try write("nan.npz") { archive in
            var logits = try archive.array("det_logits").floats()
            logits[3 * 3 + 1] = .nan
            archive["det_logits"] = try NumPyArray(shape: [40, 3], float32: logits)
        }
        let label = try write("label.npz") { archive in
            var labels = try archive.array("seg_labels").int64s()
            labels[99 + 2] = 300
            archive["seg_labels"] = try NumPyArray(shape: [2, 9, 11], int64: labels)
        }
        let typo = try write("typo.npz") { $0["seg_lables"] = $0["seg_labels"] }
        try Data("old".utf8).write(to: URL(fileURLWithPath: scratch.path("g.npz")))

        let cases: [([String], Int32, String)] = [
            ([missing], 1, "missing.npz: the detection task needs det_targets beside det_logits, det_points, det_boxes"),
            ([nan], 1, "nan.npz:det_logits[3, 1]: must be finite, got nan"),
            ([nan, "--no-validation", "--device", "0"], 1, "nan.npz:det_logits[3, 1]: must be finite, got nan"),
            ([label], 1, "label.npz:seg_labels[1, 0, 2]: is 300; labels are 0 (background), 1…3 (classes) or 255 (ignore)"),
            ([typo], 1, "typo.npz: unknown array 'seg_lables'"),
            ([Self.fixture("batch_stored.npz"), "--det-gamma", "-1"], 64, "--det-gamma: must be ≥ 0, got -1"),
            ([Self.fixture("batch_stored.npz"), "--seg-alpha", "1,2"], 64, "--seg-alpha: has 2 values; expected one per class (3)"),
            ([Self.fixture("batch_compressed.npz"), "--seg-sigma", "0.1"], 64, "--seg-sigma: the batch gives a σ per element"),
            ([Self.fixture("bad_member.npz")], 1, "bad_member.npz: member junk.npy: not a .npy file"),
            ([Self.fixture("batch_stored.npz"), "-o", scratch.path("none/g.npz")], 1, "folder \(scratch.path("none")) does not exist"),
        ]
        for (arguments, status, message) in cases {
            let outcome = try CommandLineTool.run(["step", "-o", scratch.path("g.npz"), "--device", "reference"] + arguments)
            #expect(outcome.status == status, "\(arguments): \(outcome.standardError)")
            #expect(outcome.standardError.contains(message), "\(arguments): \(outcome.standardError)")
            #expect(outcome.standardOutput.isEmpty, "\(arguments)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path("g.npz"))) == Data("old".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.folder.path).allSatisfy { !$0.contains(".reg-tmp-") })
    }
}
