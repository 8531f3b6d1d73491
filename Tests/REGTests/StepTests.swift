import Foundation
import Synchronization
import Testing
@testable import REG

/// The REG step: L_total = L_det + λ · L_seg with distances and refinement inside, on the device
/// end to end and on the reference, against the separately composed float64 operations.
@Suite("Step")
struct StepTests {
    typealias Fixtures = StepFixtures

    static let paperAlpha = try! ClassWeights.alpha(counts: Fixtures.paperCounts, .inverseFrequency)

    /// Loss relative 1e-5, gradients within 1e-5 · max(1, max|reference|), counts exact.
    static func expectMatches(_ output: StepOutput, _ arrays: StepArrays, _ settings: StepSettings, _ what: String,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try Fixtures.composed(arrays, settings)
        #expect(abs(output.result.total - expected.total) <= 1e-5 * abs(expected.total),
                "\(what): total \(output.result.total) vs \(expected.total)", sourceLocation: sourceLocation)
        if let det = expected.det {
            let got = try #require(output.result.detection, sourceLocation: sourceLocation)
            #expect(got.count == det.count && got.positives == det.positives && got.divisor == det.divisor,
                    "\(what): det counts", sourceLocation: sourceLocation)
            #expect(abs(got.sum - det.sum) <= 1e-5 * abs(det.sum), "\(what): det sum", sourceLocation: sourceLocation)
            FocalLossDeviceTests.expectGradient(output.detectionGradient, det.gradient, "\(what): det gradient",
                                                sourceLocation: sourceLocation)
            if let sigma = det.sigmaGradient {
                FocalLossDeviceTests.expectGradient(output.detectionSigmaGradient ?? [], sigma, "\(what): det ∂σ",
                                                    sourceLocation: sourceLocation)
            }
        }
        if let seg = expected.seg {
            let got = try #require(output.result.segmentation, sourceLocation: sourceLocation)
            #expect(got.count == seg.count && got.positives == seg.positives, "\(what): seg counts",
                    sourceLocation: sourceLocation)
            #expect(abs(got.sum - seg.sum) <= 1e-5 * abs(seg.sum), "\(what): seg sum", sourceLocation: sourceLocation)
            FocalLossDeviceTests.expectGradient(output.segmentationGradient, seg.gradient, "\(what): seg gradient",
                                                sourceLocation: sourceLocation)
            if let sigma = seg.sigmaGradient {
                FocalLossDeviceTests.expectGradient(output.segmentationSigmaGradient ?? [], sigma, "\(what): seg ∂σ",
                                                    sourceLocation: sourceLocation)
            }
        }
    }

    @Test("Step == the separately composed operations, on the device and on the reference, with the paper's α",
          arguments: [false, true])
    func composed(sigmaMaps: Bool) throws {
        let arrays = Fixtures.batch(sigmaMaps: sigmaMaps, seed: 3)
        var settings = StepSettings(lambda: 0.7)
        settings.detection.alpha = Self.paperAlpha
        settings.detection.sigma = sigmaMaps ? 0 : 0.05
        settings.segmentation.activation = .softmax
        #expect(Self.paperAlpha[4] == 73)
        for engine in [try Engines.device(), try Engines.device(workGroupSize: 32), try Engines.reference()] {
            let output = try engine.step(arrays, settings)
            try Self.expectMatches(output, arrays, settings, "\(engine.backend) σ maps \(sigmaMaps)")
            #expect(output.result.backend == engine.backend)
        }
    }

    @Test("λ: total = L_det + λ·L_seg, and the segmentation gradient scales with λ")
    func lambda() throws {
        let arrays = Fixtures.batch(seed: 4)
        let engine = try Engines.device()
        let one = try engine.step(arrays, StepSettings(lambda: 1))
        let half = try engine.step(arrays, StepSettings(lambda: 0.25))
        let det = try #require(one.result.detection), seg = try #require(one.result.segmentation)
        #expect(abs(one.result.total - (det.loss + seg.loss)) <= 1e-12 * one.result.total)
        #expect(abs(half.result.total - (det.loss + 0.25 * seg.loss)) <= 1e-6 * half.result.total)
        #expect(half.detectionGradient == one.detectionGradient)
        let ratio = zip(half.segmentationGradient, one.segmentationGradient).map { abs($0 - 0.25 * $1) }.max() ?? 0
        #expect(ratio <= 1e-6 * (one.segmentationGradient.map(abs).max() ?? 1))
    }

    @Test("Each normaliser, including a batch with no positives", arguments: [
        FocalLoss.Normalizer.samples, .positives, .given(50),
    ])
    func normalizers(normalizer: FocalLoss.Normalizer) throws {
        var arrays = Fixtures.batch(seed: 5)
        let settings = StepSettings(detection: TaskSettings(normalizer: normalizer),
                                    segmentation: TaskSettings(normalizer: normalizer))
        let engine = try Engines.device()
        try Self.expectMatches(try engine.step(arrays, settings), arrays, settings, "\(normalizer)")
        // No positives anywhere: M = max(0, 1) = 1 under `positives`.
        arrays.detection!.targets = .init(repeating: 0, count: arrays.detection!.targets.count)
        arrays.segmentation!.labels = arrays.segmentation!.labels.map { $0 == LabelMap.ignore ? $0 : LabelMap.background }
        let none = try engine.step(arrays, settings)
        #expect(none.result.detection?.positives == 0 && none.result.segmentation?.positives == 0)
        try Self.expectMatches(none, arrays, settings, "\(normalizer), no positives")
    }

    @Test("Either task alone; refinement off; a task with no samples")
    func optionalTasks() throws {
        let arrays = Fixtures.batch(seed: 6)
        let engine = try Engines.device()
        let detOnly = StepArrays(detection: arrays.detection)
        try Self.expectMatches(try engine.step(detOnly, StepSettings()), detOnly, StepSettings(), "detection only")
        let segOnly = StepArrays(segmentation: arrays.segmentation)
        let plain = StepSettings(segmentation: TaskSettings(refinement: nil))
        let output = try engine.step(segOnly, plain)
        #expect(output.result.detection == nil && output.detectionGradient.isEmpty)
        try Self.expectMatches(output, segOnly, plain, "segmentation only, no refinement")
        let empty = StepArrays(detection: .init(logits: [], targets: [], points: [], boxes: [], samples: 0, classes: 7, images: 0))
        let nothing = try engine.step(empty, StepSettings())
        #expect(nothing.result.total == 0 && nothing.result.detection?.count == 0)
    }

    @Test("A batch split under a small memory budget equals the unsplit batch, and is repeatable")
    func chunked() throws {
        let arrays = Fixtures.batch(samples: 1000, segmentationBatch: 5, sigmaMaps: true, seed: 7)
        let engine = try Engines.device()
        for normalizer in [FocalLoss.Normalizer.samples, .positives] {
            var settings = StepSettings(detection: TaskSettings(sigma: 0, normalizer: normalizer),
                                        segmentation: TaskSettings(normalizer: normalizer))
            let whole = try engine.step(arrays, settings)
            settings.memoryBudget = 150_000 // about 300 samples and 1 image a chunk
            let prepared = try StepRoutine(context: try #require(Self.context(engine)), configuration: engine.configuration)
                .prepare(StepCall(problem: try arrays.withBatch { try StepProblem($0, settings) }, gradients: StepGradients()))
            #expect(prepared.chunks.count >= 4, "\(prepared.chunks.map(\.range))")
            let split = try engine.step(arrays, settings)
            try Self.expectMatches(split, arrays, settings, "chunked, \(normalizer)")
            #expect(abs(split.result.total - whole.result.total) <= 1e-5 * whole.result.total)
            let again = try engine.step(arrays, settings)
            #expect(again.result == split.result && again.detectionGradient == split.detectionGradient
                    && again.segmentationGradient == split.segmentationGradient)
        }
    }

    @Test("The workspace is reused: no device allocation after the first step, the same bits every step")
    func workspaceReuse() throws {
        let arrays = Fixtures.batch(sigmaMaps: true, seed: 8)
        let engine = try Engines.device()
        let first = try engine.step(arrays, StepSettings())
        let routine = try #require(engine.cachedRoutine(StepRoutine.self))
        let allocated = routine.workspace.allocations
        #expect(allocated > 0)
        for _ in 0..<3 {
            let next = try engine.step(arrays, StepSettings())
            #expect(next.result == first.result && next.detectionGradient == first.detectionGradient
                    && next.segmentationGradient == first.segmentationGradient)
        }
        #expect(routine.workspace.allocations == allocated)
        // A smaller batch fits the same buffers; a larger one grows them once.
        _ = try engine.step(Fixtures.batch(samples: 100, segmentationBatch: 1, seed: 9), StepSettings())
        #expect(routine.workspace.allocations == allocated)
        _ = try engine.step(Fixtures.batch(samples: 900, seed: 9), StepSettings())
        let grown = routine.workspace.allocations
        _ = try engine.step(Fixtures.batch(samples: 900, seed: 10), StepSettings())
        #expect(grown > allocated && routine.workspace.allocations == grown)
    }

    @Test("One engine used from several threads gives the serial results")
    func concurrent() throws {
        let engine = try Engines.device()
        let batches = (0..<4).map { Fixtures.batch(samples: 200, seed: 20 + UInt64($0)) }
        let serial = try batches.map { try engine.step($0, StepSettings()) }
        let results = Mutex<[Int: StepOutput]>([:])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let output = try? engine.step(batches[i % 4], StepSettings())
            results.withLock { $0[i] = output }
        }
        for i in 0..<8 {
            let got = try #require(results.withLock { $0[i] })
            #expect(got.result == serial[i % 4].result && got.detectionGradient == serial[i % 4].detectionGradient
                    && got.segmentationGradient == serial[i % 4].segmentationGradient)
        }
    }

    @Test("A focal variant failing to build mid-step (after the distance kernels ran) falls back and matches the reference")
    func fallbackMidStep() throws {
        let log = LogRecorder()
        let engine = try Engine(device: .index(0), configuration: .init(buildOptions: "-DREG_FAIL_BUILD=2"),
                                logger: log.logger, environment: [:])
        let arrays = Fixtures.batch(seed: 11)
        let output = try engine.step(arrays, StepSettings())
        #expect(output.result.backend == .reference)
        #expect(log.warnings.count == 1 && log.warnings[0].contains("step"), "\(log.warnings)")
        try Self.expectMatches(output, arrays, StepSettings(), "fallback")
        #expect(engine.device != nil, "a build failure moves the step alone to the reference")
    }

    @Test("Split across two device instances (PoCL twice) equals one engine: counts exact, sums and gradients within the contract",
          arguments: [FocalLoss.Normalizer.samples, .positives])
    func engineGroup(normalizer: FocalLoss.Normalizer) throws {
        let arrays = Fixtures.batch(samples: 501, segmentationBatch: 5, sigmaMaps: true, seed: 12)
        let settings = StepSettings(detection: TaskSettings(normalizer: normalizer),
                                    segmentation: TaskSettings(activation: .softmax, normalizer: normalizer))
        let single = try Engines.device().step(arrays, settings)
        let group = try EngineGroup(devices: [.index(0), .index(0)], fallback: .throwError)
        let split = try group.step(arrays, settings)
        #expect(split.result.backend != .reference)
        #expect(split.result.detection?.count == single.result.detection?.count
                && split.result.detection?.positives == single.result.detection?.positives
                && split.result.segmentation?.count == single.result.segmentation?.count
                && split.result.segmentation?.positives == single.result.segmentation?.positives)
        try Self.expectMatches(split, arrays, settings, "two instances, \(normalizer)")
        let again = try group.step(arrays, settings)
        #expect(again.result == split.result && again.segmentationGradient == split.segmentationGradient)
        // A group with the reference in it reports the reference.
        let mixed = try EngineGroup([try Engines.device(), try Engines.reference(), try Engines.device()]).step(arrays, settings)
        #expect(mixed.result.backend == .reference)
        try Self.expectMatches(mixed, arrays, settings, "device + reference + device, \(normalizer)")
    }

    static func context(_ engine: Engine) -> DeviceContext? {
        if case .openCL(let context) = engine.backend { return context }
        return nil
    }
}
