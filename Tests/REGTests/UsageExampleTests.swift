import Foundation
import Testing
@testable import REG

/// docs/usage.md: the training-loop example (the `reg-training-loop-example` executable, built
/// beside the test bundle) runs and its loss falls, and the data-parallel recipe — shards whose
/// step is given the all-reduced M — adds up to the step on the whole batch.
@Suite("Usage")
struct UsageExampleTests {
    typealias Fixtures = StepFixtures

    // MARK: The training-loop example

    /// The example binary in the build folder that holds this test bundle.
    static var example: URL {
        get throws {
            let name = "reg-training-loop-example"
            var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = folder.appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
                folder.deleteLastPathComponent()
            }
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "\(name) beside \(CommandLine.arguments[0])"])
        }
    }

    static func runExample(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = try example
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        let errData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    @Test("The training-loop example runs on the default device, names the backend of each step, and its loss falls")
    func trainingLoop() throws {
        let run = try Self.runExample(["--steps", "40"])
        #expect(run.status == 0, "exit \(run.status)\n\(run.output)\n\(run.error)")
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("engine: ") }, "\(run.output)")
        let stepLines = lines.filter { $0.hasPrefix("step ") }
        #expect(stepLines.count == 5 && stepLines.allSatisfy { $0.contains("computed by ") }, "\(run.output)")
        // "loss fell from A to B (…% lower) in 40 steps, … s"
        let summary = try #require(lines.first { $0.hasPrefix("loss fell from ") }, "\(run.output)")
        let words = summary.split(separator: " ")
        let first = try #require(Double(words[3])), last = try #require(Double(words[5]))
        #expect(first.isFinite && last.isFinite && last < 0.5 * first, "\(summary)")
        #expect(words[9] == "40", "\(summary)")
    }

    @Test("The example refuses an unknown argument with exit 64")
    func usageError() throws {
        let run = try Self.runExample(["--epochs", "3"])
        #expect(run.status == 64 && run.error.contains("unknown argument '--epochs'"), "\(run.error)")
    }

    // MARK: Data-parallel recipe

    /// The batch's images split between workers: detection samples and boxes of those images
    /// (image indices renumbered from 0), and those label maps. `rows` are the samples' rows in
    /// the whole batch, `segImages` the label maps'.
    struct Shard {
        let arrays: StepArrays
        let rows: [Int]
        let segImages: [Int]
    }

    static func shard(_ whole: StepArrays, images: [Int]) -> Shard {
        let d = whole.detection!, s = whole.segmentation!
        let c = d.classes, local = Dictionary(uniqueKeysWithValues: images.enumerated().map { ($1, $0) })
        let rows = (0..<d.samples).filter { local[Int(d.points[3 * $0])] != nil }
        var logits: [Float] = [], targets: [Float] = [], points: [Float] = [], boxes: [Float] = []
        for n in rows {
            logits += d.logits[(n * c)..<(n * c + c)]
            targets += d.targets[(n * c)..<(n * c + c)]
            points += [Float(local[Int(d.points[3 * n])]!), d.points[3 * n + 1], d.points[3 * n + 2]]
        }
        for m in stride(from: 0, to: d.boxes.count, by: 6) {
            if let image = local[Int(d.boxes[m])] { boxes += [Float(image)] + d.boxes[(m + 1)..<(m + 6)] }
        }
        let segImages = images.filter { $0 < s.batch }
        let plane = s.height * s.width, volume = s.classes * plane
        let segLogits = segImages.flatMap { s.logits[($0 * volume)..<($0 * volume + volume)] }
        let labels = segImages.flatMap { s.labels[($0 * plane)..<($0 * plane + plane)] }
        return Shard(
            arrays: StepArrays(
                detection: .init(logits: logits, targets: targets, points: points, boxes: boxes, samples: rows.count,
                                 classes: c, images: images.count),
                segmentation: .init(logits: segLogits, labels: labels, batch: segImages.count, classes: s.classes,
                                    height: s.height, width: s.width)),
            rows: rows, segImages: segImages)
    }

    /// What each worker counts on the host before its step (docs/usage.md): detection count =
    /// samples, positives = samples with a target > 0; segmentation count = pixels not 255,
    /// positives = pixels labelled 1…C.
    static func counts(_ arrays: StepArrays) -> (det: (count: Int, positives: Int), seg: (count: Int, positives: Int)) {
        let d = arrays.detection!, s = arrays.segmentation!
        let detPositives = (0..<d.samples).filter { n in (0..<d.classes).contains { d.targets[n * d.classes + $0] > 0 } }.count
        let segCount = s.labels.filter { $0 != LabelMap.ignore }.count
        let segPositives = s.labels.filter { $0 >= 1 && Int($0) <= s.classes }.count
        return ((d.samples, detPositives), (segCount, segPositives))
    }

    /// M of a normaliser from all-reduced counts (docs/math.md §5).
    static func globalM(_ normalizer: FocalLoss.Normalizer, count: Int, positives: Int) -> Double {
        switch normalizer {
        case .samples: Double(count)
        case .positives: Double(max(positives, 1))
        case .given(let m): m
        }
    }

    @Test("Shards run with .given(M_global) add up to the whole batch: Σ losses, Σ sums, and each sample's gradient",
          arguments: [FocalLoss.Normalizer.samples, .positives])
    func dataParallel(normalizer: FocalLoss.Normalizer) throws {
        let whole = Fixtures.batch(samples: 240, seed: 31)
        var settings = StepSettings(lambda: 0.5)
        settings.detection.alpha = try ClassWeights.alpha(counts: Fixtures.paperCounts, .inverseFrequency)
        settings.detection.normalizer = normalizer
        settings.segmentation.normalizer = normalizer
        let shards = [Self.shard(whole, images: [0]), Self.shard(whole, images: [1, 2])]
        #expect(shards.map(\.rows.count).reduce(0, +) == 240)

        for engine in [try Engines.reference(), try Engines.device()] {
            let expected = try engine.step(whole, settings)
            // All-reduce the host counts, then every worker divides by the same M.
            let local = shards.map { Self.counts($0.arrays) }
            let mDet = Self.globalM(normalizer, count: local.map(\.det.count).reduce(0, +),
                                    positives: local.map(\.det.positives).reduce(0, +))
            let mSeg = Self.globalM(normalizer, count: local.map(\.seg.count).reduce(0, +),
                                    positives: local.map(\.seg.positives).reduce(0, +))
            var workerSettings = settings
            workerSettings.detection.normalizer = .given(mDet)
            workerSettings.segmentation.normalizer = .given(mSeg)
            let outputs = try shards.map { try engine.step($0.arrays, workerSettings) }

            let what = "\(engine.backend), \(normalizer)"
            let total = outputs.map(\.result.total).reduce(0, +)
            #expect(abs(total - expected.result.total) <= 1e-5 * expected.result.total, "\(what): \(total) vs \(expected.result.total)")
            #expect(mDet == expected.result.detection!.divisor && mSeg == expected.result.segmentation!.divisor, "\(what)")
            for (output, counted) in zip(outputs, local) {
                #expect(output.result.detection!.count == counted.det.count
                        && output.result.detection!.positives == counted.det.positives
                        && output.result.segmentation!.count == counted.seg.count
                        && output.result.segmentation!.positives == counted.seg.positives, "\(what): host counts = REG's")
            }
            let detSum = outputs.map { $0.result.detection!.sum }.reduce(0, +)
            #expect(abs(detSum - expected.result.detection!.sum) <= 1e-5 * expected.result.detection!.sum, "\(what)")

            // Each sample's and pixel's gradient is the whole batch's.
            let (detGradient, segGradient) = Self.assemble(whole, shards, outputs, detScale: 1, segScale: 1)
            FocalLossDeviceTests.expectGradient(detGradient, expected.detectionGradient.map(Double.init), "\(what): det gradient")
            FocalLossDeviceTests.expectGradient(segGradient, expected.segmentationGradient.map(Double.init), "\(what): seg gradient")
        }
    }

    @Test("Normalising after the step: shards run as sums (.given(1)), gradients scaled by 1/M_global, equal the whole batch")
    func dataParallelAfter() throws {
        let whole = Fixtures.batch(samples: 240, seed: 32)
        let settings = StepSettings(detection: TaskSettings(normalizer: .positives), lambda: 2)
        var sums = settings
        sums.detection.normalizer = .given(1)
        sums.segmentation.normalizer = .given(1)
        let shards = [Self.shard(whole, images: [0, 2]), Self.shard(whole, images: [1])]
        let engine = try Engines.device()
        let expected = try engine.step(whole, settings)
        let outputs = try shards.map { try engine.step($0.arrays, sums) }
        // All-reduce sum, count and positives of each task.
        let det = outputs.map { $0.result.detection! }, seg = outputs.map { $0.result.segmentation! }
        let mDet = Self.globalM(.positives, count: det.map(\.count).reduce(0, +), positives: det.map(\.positives).reduce(0, +))
        let mSeg = Self.globalM(.samples, count: seg.map(\.count).reduce(0, +), positives: seg.map(\.positives).reduce(0, +))
        let total = det.map(\.sum).reduce(0, +) / mDet + 2 * seg.map(\.sum).reduce(0, +) / mSeg
        #expect(abs(total - expected.result.total) <= 1e-5 * expected.result.total, "\(total) vs \(expected.result.total)")
        let (detGradient, segGradient) = Self.assemble(whole, shards, outputs, detScale: Float(1 / mDet),
                                                       segScale: Float(1 / mSeg))
        FocalLossDeviceTests.expectGradient(detGradient, expected.detectionGradient.map(Double.init), "det gradient")
        FocalLossDeviceTests.expectGradient(segGradient, expected.segmentationGradient.map(Double.init), "seg gradient")
    }

    /// The shards' gradients placed where their samples and pixels sit in the whole batch, times a
    /// scale per task.
    static func assemble(_ whole: StepArrays, _ shards: [Shard], _ outputs: [StepOutput], detScale: Float,
                         segScale: Float) -> (det: [Float], seg: [Float]) {
        let c = whole.detection!.classes, s = whole.segmentation!
        let volume = s.classes * s.height * s.width
        var det = [Float](repeating: .nan, count: whole.detection!.logits.count)
        var seg = [Float](repeating: .nan, count: s.logits.count)
        for (shard, output) in zip(shards, outputs) {
            for (i, n) in shard.rows.enumerated() {
                for k in 0..<c { det[n * c + k] = detScale * output.detectionGradient[i * c + k] }
            }
            for (i, image) in shard.segImages.enumerated() {
                for e in 0..<volume { seg[image * volume + e] = segScale * output.segmentationGradient[i * volume + e] }
            }
        }
        return (det, seg)
    }
}
