import Foundation
import Testing
@testable import REG

/// Edge cases, bad input, repeatability, and the two entry points agreeing.
@Suite("Focal loss: edge cases, errors, determinism")
struct FocalLossBehaviourTests {
    typealias Fixtures = FocalLossFixtures

    static var engines: [Engine] { get throws { [try Engines.device(), try Engines.reference()] } }

    @Test("Every pixel ignored: count 0, mean 0, gradient 0, on both backends", arguments: FocalLoss.Activation.allCases)
    func allIgnored(activation: FocalLoss.Activation) throws {
        let (logits, _) = Fixtures.segmentation(batch: 2, classes: 3, height: 5, width: 7, seed: 3, extremes: true)
        let labels = [UInt8](repeating: 255, count: 70)
        for engine in try Self.engines {
            for reduction in FocalLoss.Reduction.allCases {
                let settings = FocalLoss(activation: activation, gamma: 2, uncertainty: .scalar(0.05), reduction: reduction)
                let result = try engine.focalLoss(segmentation: logits, labels: labels, batch: 2, classes: 3, height: 5,
                                                  width: 7, settings)
                #expect(result.count == 0 && result.loss == 0 && result.sum == 0)
                #expect(result.gradient.allSatisfy { $0 == 0 })
                #expect(result.scalarSigmaGradient == 0)
                if reduction == .none { #expect(result.elementLoss!.allSatisfy { $0 == 0 }) }
            }
        }
    }

    @Test("Empty inputs give empty results")
    func empty() throws {
        for engine in try Self.engines {
            let detection = try engine.focalLoss(detection: [], targets: [], samples: 0, classes: 7, FocalLoss())
            #expect(detection.count == 0 && detection.loss == 0 && detection.gradient.isEmpty)
            let segmentation = try engine.focalLoss(segmentation: [], labels: [] as [UInt8], batch: 0, classes: 5,
                                                    height: 4, width: 4, FocalLoss(activation: .softmax))
            #expect(segmentation.count == 0 && segmentation.gradient.isEmpty)
        }
    }

    @Test("Bitwise repeatable over repeated runs, per kernel variant", arguments: KernelSetup.both)
    func repeatable(setup: KernelSetup) throws {
        let engine = try setup.engine()
        let (logits, targets) = Fixtures.detection(samples: 20_011, classes: 7, seed: 77, extremes: true)
        let settings = FocalLoss(alpha: Fixtures.alpha(classes: 7, seed: 1), gamma: 2.5,
                                 spatial: Fixtures.spatial(.distances, count: logits.count, seed: 2),
                                 uncertainty: .scalar(0.05))
        let first = try engine.focalLoss(detection: logits, targets: targets, samples: 20_011, classes: 7, settings)
        let (segLogits, labels) = Fixtures.segmentation(batch: 2, classes: 5, height: 61, width: 83, seed: 78)
        let segSettings = FocalLoss(activation: .softmax, gamma: 2, uncertainty: Fixtures.uncertainty(.perElement, count: segLogits.count, seed: 3))
        let firstSeg = try engine.focalLoss(segmentation: segLogits, labels: labels, batch: 2, classes: 5, height: 61,
                                            width: 83, segSettings)
        for _ in 0..<3 {
            let again = try engine.focalLoss(detection: logits, targets: targets, samples: 20_011, classes: 7, settings)
            #expect(again == first)
            #expect(again.sum.bitPattern == first.sum.bitPattern)
            let againSeg = try engine.focalLoss(segmentation: segLogits, labels: labels, batch: 2, classes: 5,
                                                height: 61, width: 83, segSettings)
            #expect(againSeg == firstSeg)
        }
    }

    @Test("The CPU-reference engine returns the float64 reference rounded")
    func referenceEngine() throws {
        let (logits, targets) = Fixtures.detection(samples: 31, classes: 3, seed: 4)
        let settings = FocalLoss(gamma: 1.5, uncertainty: .perElement([Float](repeating: 0.1, count: 93)), reduction: .none)
        let engine = try Engines.reference().focalLoss(detection: logits, targets: targets, samples: 31, classes: 3, settings)
        let reference = try FocalLossReference.focalLoss(detection: logits, targets: targets, samples: 31, classes: 3, settings)
        #expect(engine == reference.rounded)
    }

    @Test("Int32 labels give the same result as bytes; out-of-byte labels name their pixel")
    func int32Labels() throws {
        let (logits, labels) = Fixtures.segmentation(batch: 2, classes: 4, height: 3, width: 5, seed: 8)
        let wide = labels.map(Int32.init)
        for engine in try Self.engines {
            let settings = FocalLoss(activation: .softmax)
            let bytes = try engine.focalLoss(segmentation: logits, labels: labels, batch: 2, classes: 4, height: 3,
                                             width: 5, settings)
            #expect(try engine.focalLoss(segmentation: logits, labels: wide, batch: 2, classes: 4, height: 3, width: 5,
                                         settings) == bytes)
            var bad = wide
            bad[22] = 300 // pixel b = 1, y = 1, x = 2
            #expect(throws: InvalidArgument("labels", index: [1, 1, 2], "must be 0…4 or 255 (ignore), got 300")) {
                try engine.focalLoss(segmentation: logits, labels: bad, batch: 2, classes: 4, height: 3, width: 5, settings)
            }
        }
    }

    @Test("Bad elements are errors naming the element, identical on both backends")
    func badElements() throws {
        let (logits, targets) = Fixtures.detection(samples: 300, classes: 7, seed: 9)
        let (segLogits, labels) = Fixtures.segmentation(batch: 2, classes: 5, height: 9, width: 11, seed: 10)
        let n = logits.count, m = segLogits.count
        func detection(_ logits: [Float] = logits, _ targets: [Float] = targets, _ settings: FocalLoss = FocalLoss()) -> (Engine) throws -> Void {
            { engine in _ = try engine.focalLoss(detection: logits, targets: targets, samples: 300, classes: 7, settings) }
        }
        func segmentation(_ logits: [Float] = segLogits, _ labels: [UInt8] = labels,
                          _ settings: FocalLoss = FocalLoss(activation: .softmax)) -> (Engine) throws -> Void {
            { engine in
                _ = try engine.focalLoss(segmentation: logits, labels: labels, batch: 2, classes: 5, height: 9, width: 11,
                                         settings)
            }
        }
        func with<T>(_ array: [T], _ i: Int, _ value: T) -> [T] {
            var copy = array
            copy[i] = value
            return copy
        }
        let cases: [(InvalidArgument, (Engine) throws -> Void)] = [
            (InvalidArgument("logits", index: [200, 1], "must be finite, got nan"), detection(with(with(logits, 1401, .nan), 2000, .nan))),
            (InvalidArgument("logits", index: [0, 6], "must be finite, got inf"), detection(with(logits, 6, .infinity))),
            (InvalidArgument("targets", index: [150, 3], "must be in [0, 1], got 1.5"), detection(logits, with(targets, 1053, 1.5))),
            (InvalidArgument("targets", index: [2, 0], "must be in [0, 1], got nan"), detection(logits, with(targets, 14, .nan))),
            (InvalidArgument("weights", index: [10, 2], "must be finite and ≥ 0, got -1.0"),
             detection(logits, targets, FocalLoss(spatial: .weights(with([Float](repeating: 1, count: n), 72, -1))))),
            (InvalidArgument("distances", index: [299, 6], "is NaN"),
             detection(logits, targets, FocalLoss(spatial: .distances(with([Float](repeating: 1, count: n), n - 1, .nan),
                                                                       Refinement(beta: 1, delta: 0))))),
            (InvalidArgument("sigma", index: [3, 3], "must be finite and in [0, 1000000.0], got -0.5"),
             detection(logits, targets, FocalLoss(uncertainty: .perElement(with([Float](repeating: 0.1, count: n), 24, -0.5))))),
            (InvalidArgument("logits", index: [1, 4, 8, 10], "must be finite, got -inf"),
             segmentation(with(segLogits, m - 1, -.infinity))),
            (InvalidArgument("labels", index: [1, 0, 3], "must be 0…5 or 255 (ignore), got 6"), segmentation(segLogits, with(labels, 102, 6))),
            (InvalidArgument("labels", index: [0, 8, 10], "must be 0…5 or 255 (ignore), got 254"),
             segmentation(segLogits, with(labels, 98, 254), FocalLoss(activation: .sigmoid))),
            (InvalidArgument("sigma", index: [0, 2, 1, 1], "must be finite and in [0, 1000000.0], got nan"),
             segmentation(segLogits, labels, FocalLoss(activation: .softmax,
                                                       uncertainty: .perElement(with([Float](repeating: 0, count: m), 2 * 99 + 12, .nan))))),
        ]
        for (error, call) in cases {
            for engine in try Self.engines {
                #expect(throws: error) { try call(engine) }
            }
        }
    }

    @Test("Bad shapes and parameters are errors naming the argument")
    func badParameters() throws {
        let logits = [Float](repeating: 0, count: 12), targets = [Float](repeating: 0, count: 12)
        let engine = try Engines.device()
        func detection(_ settings: FocalLoss, samples: Int = 4, classes: Int = 3, targets: [Float] = targets) throws {
            _ = try engine.focalLoss(detection: logits, targets: targets, samples: samples, classes: classes, settings)
        }
        #expect(throws: InvalidArgument("logits", "has 12 values; expected samples × classes = 15")) {
            try detection(FocalLoss(), samples: 5)
        }
        #expect(throws: InvalidArgument("targets", "has 11 values; expected samples × classes = 12")) {
            try detection(FocalLoss(), targets: Array(targets.dropLast()))
        }
        #expect(throws: InvalidArgument("classes", "must be ≥ 1, got 0")) { try detection(FocalLoss(), samples: 4, classes: 0) }
        #expect(throws: InvalidArgument("gamma", "must be finite and ≥ 0, got -1.0")) { try detection(FocalLoss(gamma: -1)) }
        #expect(throws: InvalidArgument("gamma", "must be finite and ≥ 0, got inf")) { try detection(FocalLoss(gamma: .infinity)) }
        #expect(throws: InvalidArgument("alpha", "has 2 values; expected one per class (3)")) {
            try detection(FocalLoss(alpha: [1, 2]))
        }
        #expect(throws: InvalidArgument("alpha", index: [1], "must be finite and ≥ 0, got -2.0")) {
            try detection(FocalLoss(alpha: [1, -2, 1]))
        }
        #expect(throws: InvalidArgument("positiveFraction", "must be in [0, 1], got 1.5")) {
            try detection(FocalLoss(positiveFraction: 1.5))
        }
        #expect(throws: InvalidArgument("sigma", "must be finite and in [0, 1000000.0], got -0.1")) {
            try detection(FocalLoss(uncertainty: .scalar(-0.1)))
        }
        #expect(throws: InvalidArgument("weights", "has 3 values; expected one per logit = 12")) {
            try detection(FocalLoss(spatial: .weights([1, 1, 1])))
        }
        #expect(throws: InvalidArgument("beta", "must be finite, got nan")) {
            try detection(FocalLoss(spatial: .distances(targets, Refinement(beta: .nan, delta: 0))))
        }
        #expect(throws: InvalidArgument("gradientScale", "must be finite, got inf")) {
            try detection(FocalLoss(gradientScale: .infinity))
        }
        #expect(throws: InvalidArgument("activation", "softmax runs over the classes of a pixel (segmentation layout); detection is multi-label and uses sigmoid")) {
            try detection(FocalLoss(activation: .softmax))
        }
        #expect(throws: InvalidArgument("activation", "softmax needs at least 2 classes, got 1")) {
            _ = try engine.focalLoss(segmentation: [0, 0], labels: [0, 1] as [UInt8], batch: 1, classes: 1, height: 1,
                                     width: 2, FocalLoss(activation: .softmax))
        }
        #expect(throws: InvalidArgument("labels", "has 3 values; expected batch × height × width = 2")) {
            _ = try engine.focalLoss(segmentation: [0, 0], labels: [0, 1, 1] as [UInt8], batch: 1, classes: 1, height: 1,
                                     width: 2, FocalLoss())
        }
    }

    @Test("Large σ: the truncated normal flattens towards p̂ = ½ without NaN")
    func largeSigma() throws {
        let (logits, targets) = Fixtures.detection(samples: 50, classes: 3, seed: 12, extremes: true)
        for sigma: Float in [1e-20, 1e-3, 3, 1e3, 1e6] {
            let settings = FocalLoss(gamma: 2, uncertainty: .scalar(sigma), reduction: .sum)
            let device = try Engines.device().focalLoss(detection: logits, targets: targets, samples: 50, classes: 3, settings)
            let reference = try FocalLossReference.focalLoss(detection: logits, targets: targets, samples: 50, classes: 3, settings)
            FocalLossDeviceTests.expectClose(device, reference, "σ \(sigma)")
        }
    }
}
