import Foundation
import Testing
@testable import REG

/// The mean's normaliser M (docs/math.md §5): samples, positives and a given M, with every result
/// reporting sum, count and positives.
@Suite("Focal loss: normalisers")
struct FocalLossNormalizerTests {
    typealias Fixtures = FocalLossFixtures

    static let normalizers: [FocalLoss.Normalizer] = [.samples, .positives, .given(37.5)]

    /// M by hand: samples, max(positives, 1) or the given value.
    static func divisor(_ normalizer: FocalLoss.Normalizer, count: Int, positives: Int) -> Double {
        switch normalizer {
        case .samples: Double(count)
        case .positives: Double(max(positives, 1))
        case .given(let m): m
        }
    }

    /// The `.sum` result divided by M is the `.mean` result, on the reference and on the device.
    static func expectNormalised(_ mean: FocalLossResult<Float>, _ sum: FocalLossResult<Double>, m: Double,
                                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(abs(Double(mean.loss) - sum.sum / m) <= 1e-5 * abs(sum.sum / m) + 1e-30,
                "\(what): loss \(mean.loss) vs \(sum.sum / m)", sourceLocation: sourceLocation)
        let expected = sum.gradient.map { $0 / m }
        FocalLossDeviceTests.expectGradient(mean.gradient, expected, "\(what): gradient", sourceLocation: sourceLocation)
    }

    @Test("Detection: positives are samples with a target > 0; loss and gradient divide by M", arguments: normalizers)
    func detection(normalizer: FocalLoss.Normalizer) throws {
        var (logits, targets) = Fixtures.detection(samples: 257, classes: 5, seed: 21)
        for n in stride(from: 0, to: 257, by: 3) { for c in 0..<5 { targets[n * 5 + c] = 0 } } // a third negative
        let positives = (0..<257).filter { n in (0..<5).contains { targets[n * 5 + $0] > 0 } }.count
        #expect(positives > 0 && positives < 257)
        let sum = try FocalLossReference.focalLoss(detection: logits, targets: targets, samples: 257, classes: 5,
                                                   FocalLoss(gamma: 2, reduction: .sum))
        let m = Self.divisor(normalizer, count: 257, positives: positives)
        let settings = FocalLoss(gamma: 2, reduction: .mean, normalizer: normalizer)
        for engine in [try Engines.device(), try Engines.device(workGroupSize: 32), try Engines.reference()] {
            let result = try engine.focalLoss(detection: logits, targets: targets, samples: 257, classes: 5, settings)
            #expect(result.count == 257 && result.positives == positives, "\(engine.backend)")
            #expect(abs(result.sum - sum.sum) <= 1e-5 * sum.sum)
            Self.expectNormalised(result, sum, m: m, "\(engine.backend) \(normalizer)")
        }
    }

    @Test("Segmentation: positives are non-ignored pixels labelled 1…C (sigmoid and softmax)",
          arguments: normalizers, [FocalLoss.Activation.sigmoid, .softmax])
    func segmentation(normalizer: FocalLoss.Normalizer, activation: FocalLoss.Activation) throws {
        let (batch, classes, height, width) = (2, 4, 13, 17)
        let (logits, labels) = Fixtures.segmentation(batch: batch, classes: classes, height: height, width: width, seed: 5)
        let count = labels.filter { $0 != LabelMap.ignore }.count
        let positives = labels.filter { $0 >= 1 && $0 <= UInt8(classes) }.count
        #expect(positives > 0 && positives < count)
        let sum = try FocalLossReference.focalLoss(segmentation: logits, labels: labels, batch: batch, classes: classes,
                                                   height: height, width: width,
                                                   FocalLoss(activation: activation, reduction: .sum))
        let m = Self.divisor(normalizer, count: count, positives: positives)
        let settings = FocalLoss(activation: activation, reduction: .mean, normalizer: normalizer)
        for engine in [try Engines.device(), try Engines.device(workGroupSize: 16), try Engines.reference()] {
            let result = try engine.focalLoss(segmentation: logits, labels: labels, batch: batch, classes: classes,
                                              height: height, width: width, settings)
            #expect(result.count == count && result.positives == positives, "\(engine.backend)")
            Self.expectNormalised(result, sum, m: m, "\(engine.backend) \(normalizer) \(activation)")
        }
    }

    @Test("No positives: M = max(0, 1) = 1, so the mean is the sum")
    func zeroPositives() throws {
        let (logits, _) = Fixtures.detection(samples: 40, classes: 3, seed: 8)
        let targets = [Float](repeating: 0, count: 120)
        let labels = [UInt8](repeating: LabelMap.background, count: 2 * 5 * 6) // no positives
        let segLogits = Fixtures.segmentation(batch: 2, classes: 3, height: 5, width: 6, seed: 9).logits
        let settings = FocalLoss(normalizer: .positives)
        for engine in [try Engines.device(), try Engines.reference()] {
            let det = try engine.focalLoss(detection: logits, targets: targets, samples: 40, classes: 3, settings)
            #expect(det.positives == 0 && Double(det.loss) == Double(Float(det.sum)), "\(det.loss) vs \(det.sum)")
            let seg = try engine.focalLoss(segmentation: segLogits, labels: labels, batch: 2, classes: 3, height: 5,
                                           width: 6, settings)
            #expect(seg.positives == 0 && seg.count == 60 && Double(seg.loss) == Double(Float(seg.sum)))
        }
    }

    @Test("A given M must be finite and > 0", arguments: [0.0, -3, .nan, .infinity])
    func badGivenM(m: Double) throws {
        let error = try #require(throws: InvalidArgument.self) {
            _ = try Engines.reference().focalLoss(detection: [1], targets: [1], samples: 1, classes: 1,
                                                  FocalLoss(normalizer: .given(m)))
        }
        #expect(error.argument == "normalizer")
    }

    @Test("Sums, counts and positives of two halves add up to the whole (what data-parallel workers all-reduce)")
    func allReduce() throws {
        let (logits, targets) = Fixtures.detection(samples: 300, classes: 4, seed: 77)
        let engine = try Engines.device()
        let whole = try engine.focalLoss(detection: logits, targets: targets, samples: 300, classes: 4,
                                         FocalLoss(normalizer: .positives))
        let a = try engine.focalLoss(detection: Array(logits[..<480]), targets: Array(targets[..<480]), samples: 120,
                                     classes: 4, FocalLoss(reduction: .sum))
        let b = try engine.focalLoss(detection: Array(logits[480...]), targets: Array(targets[480...]), samples: 180,
                                     classes: 4, FocalLoss(reduction: .sum))
        #expect(a.count + b.count == whole.count && a.positives + b.positives == whole.positives)
        #expect(abs(a.sum + b.sum - whole.sum) <= 1e-6 * whole.sum)
        // Each worker normalises by the global M: its gradient is its part of the whole's.
        let global = Double(whole.positives)
        let worker = try engine.focalLoss(detection: Array(logits[..<480]), targets: Array(targets[..<480]), samples: 120,
                                          classes: 4, FocalLoss(normalizer: .given(global)))
        // (1/M is rounded on the host for a given M, divided on the device for positives: an ulp apart.)
        let part = whole.gradient[..<480].map(Double.init)
        FocalLossDeviceTests.expectGradient(worker.gradient, part, "worker's share of the gradient")
    }
}
