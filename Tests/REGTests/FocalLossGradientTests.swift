import Foundation
import Testing
@testable import REG

/// The float64 reference's ∂L/∂logits and ∂L/∂σ against central finite differences of its own
/// loss, over every combination of layout, activation, γ, α, the torchvision split, spatial weight,
/// σ and reduction.
@Suite("Focal loss: float64 reference vs central finite differences")
struct FocalLossGradientTests {
    typealias Fixtures = FocalLossFixtures

    enum Layout: CaseIterable, CustomStringConvertible {
        case detection, segmentationSigmoid, segmentationSoftmax
        var description: String {
            switch self {
            case .detection: "detection"
            case .segmentationSigmoid: "segmentation sigmoid"
            case .segmentationSoftmax: "segmentation softmax"
            }
        }
    }

    static let uncertainties: [Fixtures.UncertaintyKind] = [.none, .scalar(0.05), .scalar(1.5), .perElement]

    /// A small problem: detection [4, 3] with soft targets, or segmentation [1, 3, 2, 3] with one
    /// ignored pixel; logits in ±6 with a few at ±12.
    static func input(_ layout: Layout, gamma: Float, alpha: Bool, split: Bool, spatial: Fixtures.SpatialKind,
                      uncertainty: Fixtures.UncertaintyKind, reduction: FocalLoss.Reduction) throws -> FocalLossInput {
        let classes = 3
        let count = layout == .detection ? 12 : 18
        var settings = FocalLoss(activation: layout == .segmentationSoftmax ? .softmax : .sigmoid,
                                 alpha: alpha ? [0.5, 2, 1.25] : nil, positiveFraction: split ? 0.25 : nil,
                                 gamma: gamma, spatial: Fixtures.spatial(spatial, count: count, seed: 11),
                                 uncertainty: Fixtures.uncertainty(uncertainty, count: count, seed: 12),
                                 gradientScale: 1.7, reduction: reduction)
        if case .distances(let d, _) = settings.spatial {
            settings.spatial = .distances(d, Refinement(beta: 0.15, delta: 25)) // g spread over (0, 1)
        }
        switch layout {
        case .detection:
            var (logits, targets) = Fixtures.detection(samples: 4, classes: classes, seed: 5, range: 6)
            logits[1] = 12
            logits[6] = -12
            // Keep soft targets away from p̂ (|y − p̂| is not differentiable at 0).
            for i in targets.indices where targets[i] != 0 && targets[i] != 1 {
                let p = Double(1 / (1 + exp(-logits[i])))
                let hat = pHat(p, sigma: Fixtures.sigmaValue(settings.uncertainty, i))
                if abs(Double(targets[i]) - hat) < 0.1 { targets[i] = Float(hat < 0.5 ? hat + 0.3 : hat - 0.3) }
            }
            return try FocalLossInput(detection: logits, targets: targets, samples: 4, classes: classes, settings)
        case .segmentationSigmoid, .segmentationSoftmax:
            var (logits, _) = Fixtures.segmentation(batch: 1, classes: classes, height: 2, width: 3, seed: 6, range: 6)
            logits[2] = 12
            logits[9] = -12
            return try FocalLossInput(segmentation: logits, labels: [0, 1, 2, 3, 255, 2], batch: 1, classes: classes,
                                      height: 2, width: 3, settings)
        }
    }

    static func pHat(_ p: Double, sigma: Double) -> Double {
        guard sigma > 0 else { return p }
        let mean = FocalLossReference.truncatedMean(min(p, 1 - p), sigma: sigma).value
        return p <= 0.5 ? mean : 1 - mean
    }

    @Test("∂L/∂logits and ∂L/∂σ match central differences", arguments: Layout.allCases, [0, 0.5, 1, 2, 2.5] as [Float])
    func finiteDifferences(layout: Layout, gamma: Float) throws {
        for (alpha, split) in [(false, false), (true, false), (false, true), (true, true)] {
            for spatial in Fixtures.SpatialKind.allCases {
                for uncertainty in Self.uncertainties {
                    for reduction in [FocalLoss.Reduction.mean, .sum] {
                        let input = try Self.input(layout, gamma: gamma, alpha: alpha, split: split, spatial: spatial,
                                                   uncertainty: uncertainty, reduction: reduction)
                        try input.validateElements()
                        Self.check(input, "\(layout) γ \(gamma) α \(alpha) a \(split) \(spatial) \(uncertainty) \(reduction)")
                    }
                }
            }
        }
    }

    /// Central differences with h = 1e-5·max(1, |x|) (truncation ~h², rounding ~1e-16/h):
    /// |FD − analytic| ≤ 1e-6·(1 + |analytic|).
    static func check(_ input: FocalLossInput, _ what: String) {
        let z = input.logits.map(Double.init)
        let sigma = FocalLossReference.Sigma(input.settings.uncertainty)
        let scale = Double(input.settings.gradientScale)
        let result = FocalLossReference.compute(input, logits: z, sigma: sigma)
        #expect(result.loss.isFinite && result.loss > 0, "\(what): loss \(result.loss)")
        func loss(_ z: [Double], _ sigma: FocalLossReference.Sigma) -> Double {
            FocalLossReference.compute(input, logits: z, sigma: sigma).loss * scale
        }
        for i in z.indices {
            let h = 1e-5 * max(1, abs(z[i]))
            var plus = z, minus = z
            plus[i] += h
            minus[i] -= h
            let fd = (loss(plus, sigma) - loss(minus, sigma)) / (2 * h)
            #expect(abs(fd - result.gradient[i]) <= 1e-6 * (1 + abs(result.gradient[i])),
                    "\(what): ∂L/∂z[\(i)] = \(result.gradient[i]), FD \(fd), z = \(z[i])")
        }
        switch sigma {
        case .none:
            #expect(result.sigmaGradient == nil && result.scalarSigmaGradient == nil)
        case .scalar(let s):
            let h = 1e-5 * s
            let fd = (loss(z, .scalar(s + h)) - loss(z, .scalar(s - h))) / (2 * h)
            let analytic = result.scalarSigmaGradient ?? .nan
            #expect(abs(fd - analytic) <= 1e-6 * (1 + abs(analytic)), "\(what): ∂L/∂σ = \(analytic), FD \(fd)")
        case .perElement(let values):
            let analytic = result.sigmaGradient ?? []
            #expect(analytic.count == values.count)
            for i in values.indices where i < analytic.count {
                guard values[i] > 0 else {
                    #expect(analytic[i] == 0, "\(what): ∂L/∂σ[\(i)] at σ = 0 is taken as 0")
                    continue
                }
                let h = 1e-5 * values[i]
                var plus = values, minus = values
                plus[i] += h
                minus[i] -= h
                let fd = (loss(z, .perElement(plus)) - loss(z, .perElement(minus))) / (2 * h)
                #expect(abs(fd - analytic[i]) <= 1e-6 * (1 + abs(analytic[i])),
                        "\(what): ∂L/∂σ[\(i)] = \(analytic[i]), FD \(fd), σ = \(values[i])")
            }
        }
    }
}
