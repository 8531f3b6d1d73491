import Foundation
import Testing
@testable import REG

/// OpenCL against the float64 reference within the tolerances of docs/math.md §7.
@Suite("Focal loss: OpenCL vs the float64 reference")
struct FocalLossDeviceTests {
    typealias Fixtures = FocalLossFixtures

    /// Checks one result against the reference: loss and sum relative 1e-5, gradients
    /// max|dev − ref| ≤ 1e-5 · max(1, max|ref|), no NaN or Inf anywhere, same count.
    static func expectClose(_ device: FocalLossResult<Float>, _ reference: FocalLossResult<Double>, _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(device.count == reference.count, "\(what): count", sourceLocation: sourceLocation)
        #expect(device.loss.isFinite && device.sum.isFinite, "\(what): loss \(device.loss)", sourceLocation: sourceLocation)
        let lossError = abs(Double(device.loss) - reference.loss)
        #expect(lossError <= 1e-5 * abs(reference.loss) + 1e-30,
                "\(what): loss \(device.loss) vs \(reference.loss)", sourceLocation: sourceLocation)
        #expect(abs(device.sum - reference.sum) <= 1e-5 * abs(reference.sum) + 1e-30,
                "\(what): sum \(device.sum) vs \(reference.sum)", sourceLocation: sourceLocation)
        expectGradient(device.gradient, reference.gradient, "\(what): ∂L/∂logits", sourceLocation: sourceLocation)
        #expect((device.sigmaGradient == nil) == (reference.sigmaGradient == nil), sourceLocation: sourceLocation)
        if let d = device.sigmaGradient, let r = reference.sigmaGradient {
            expectGradient(d, r, "\(what): ∂L/∂σ", sourceLocation: sourceLocation)
        }
        #expect((device.scalarSigmaGradient == nil) == (reference.scalarSigmaGradient == nil), sourceLocation: sourceLocation)
        if let d = device.scalarSigmaGradient, let r = reference.scalarSigmaGradient {
            #expect(d.isFinite && abs(Double(d) - r) <= 1e-5 * max(1, abs(r)),
                    "\(what): scalar ∂L/∂σ \(d) vs \(r)", sourceLocation: sourceLocation)
        }
        #expect((device.elementLoss == nil) == (reference.elementLoss == nil), sourceLocation: sourceLocation)
        if let d = device.elementLoss, let r = reference.elementLoss {
            // Relative 1e-5 where ℓ ≥ 0.01, absolute 1e-7 below: a small ℓ is ill-conditioned in
            // float where p̂ is close to a soft target (relative sensitivity γ·p̂/|y − p̂|) or where
            // a large |z| enters exp (relative error ~|z|·2⁻²⁴).
            let bad = d.indices.first { !d[$0].isFinite || abs(Double(d[$0]) - r[$0]) > 1e-5 * (abs(r[$0]) + 1e-2) }
            #expect(bad == nil, "\(what): ℓ[\(bad ?? 0)] = \(bad.map { d[$0] } ?? 0) vs \(bad.map { r[$0] } ?? 0)",
                    sourceLocation: sourceLocation)
        }
    }

    static func expectGradient(_ device: [Float], _ reference: [Double], _ what: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(device.allSatisfy { $0.isFinite }, "\(what): NaN or Inf", sourceLocation: sourceLocation)
        let scale = max(1, reference.map(abs).max() ?? 0)
        let (error, index) = Tolerance.maxAbsoluteError(device, reference)
        #expect(error <= 1e-5 * scale,
                "\(what): error \(error) at \(index): \(index >= 0 ? device[index] : 0) vs \(index >= 0 ? reference[index] : 0)",
                sourceLocation: sourceLocation)
    }

    static let gammas: [Float] = [0, 0.5, 1, 2, 2.5]
    static let uncertainties: [Fixtures.UncertaintyKind] = [.none, .scalar(0.05), .perElement]

    @Test("Detection: shapes × γ × σ × spatial × soft targets, both kernel variants", arguments: KernelSetup.both)
    func detection(setup: KernelSetup) throws {
        let engine = try setup.engine()
        let shapes = [(1, 1), (1, 7), (7, 1), (13, 7), (257, 3), (1009, 5), (4099, 7)]
        var seed: UInt64 = 1
        for (samples, classes) in shapes {
            seed += 1
            let (logits, targets) = Fixtures.detection(samples: samples, classes: classes, seed: seed, extremes: true)
            for gamma in Self.gammas {
                for uncertainty in Self.uncertainties {
                    for spatial in Fixtures.SpatialKind.allCases {
                        let n = logits.count
                        let settings = FocalLoss(alpha: Fixtures.alpha(classes: classes, seed: seed),
                                                 positiveFraction: gamma == 2 ? 0.25 : nil, gamma: gamma,
                                                 spatial: Fixtures.spatial(spatial, count: n, seed: seed + 100),
                                                 uncertainty: Fixtures.uncertainty(uncertainty, count: n, seed: seed + 200),
                                                 gradientScale: 1.5,
                                                 reduction: [.mean, .sum, .none][Int(seed) % 3])
                        let device = try engine.focalLoss(detection: logits, targets: targets, samples: samples,
                                                          classes: classes, settings)
                        let reference = try FocalLossReference.focalLoss(detection: logits, targets: targets,
                                                                         samples: samples, classes: classes, settings)
                        Self.expectClose(device, reference,
                                         "[\(samples), \(classes)] γ \(gamma) \(uncertainty) \(spatial) \(settings.reduction)")
                    }
                }
            }
        }
    }

    @Test("Segmentation: shapes × activation × γ × σ × spatial, ignore labels, both kernel variants",
          arguments: [FocalLoss.Activation.sigmoid, .softmax], KernelSetup.both)
    func segmentation(activation: FocalLoss.Activation, setup: KernelSetup) throws {
        let engine = try setup.engine()
        var shapes = [(1, 2, 1, 1), (1, 2, 3, 5), (2, 5, 7, 11), (3, 5, 17, 19), (1, 3, 31, 67)]
        if activation == .sigmoid { shapes.insert((1, 1, 1, 1), at: 0) }
        var seed: UInt64 = 50
        for (batch, classes, height, width) in shapes {
            seed += 1
            let (logits, labels) = Fixtures.segmentation(batch: batch, classes: classes, height: height, width: width,
                                                         seed: seed, extremes: true)
            for gamma in Self.gammas {
                for uncertainty in Self.uncertainties {
                    for spatial in Fixtures.SpatialKind.allCases {
                        let n = logits.count
                        let settings = FocalLoss(activation: activation,
                                                 alpha: Fixtures.alpha(classes: classes, seed: seed),
                                                 positiveFraction: gamma == 1 ? 0.25 : nil, gamma: gamma,
                                                 spatial: Fixtures.spatial(spatial, count: n, seed: seed + 100),
                                                 uncertainty: Fixtures.uncertainty(uncertainty, count: n, seed: seed + 200),
                                                 gradientScale: 0.75,
                                                 reduction: [.mean, .sum, .none][Int(seed + UInt64(gamma * 2)) % 3])
                        let device = try engine.focalLoss(segmentation: logits, labels: labels, batch: batch,
                                                          classes: classes, height: height, width: width, settings)
                        let reference = try FocalLossReference.focalLoss(segmentation: logits, labels: labels,
                                                                         batch: batch, classes: classes, height: height,
                                                                         width: width, settings)
                        Self.expectClose(device, reference,
                                         "[\(batch), \(classes), \(height), \(width)] \(activation) γ \(gamma) \(uncertainty) \(spatial) \(settings.reduction)")
                    }
                }
            }
        }
    }

    @Test("Any work-group size the device allows, powers of two or not, both kernel variants",
          arguments: [1, 2, 40, 1000, 1024], [nil, .scalarGroups] as [KernelVariant?])
    func workGroupSizes(workGroupSize: Int, variant: KernelVariant?) throws {
        let engine = try Engines.device(workGroupSize: workGroupSize, kernelVariant: variant)
        let (logits, targets) = Fixtures.detection(samples: 3001, classes: 7, seed: 90, extremes: true)
        let settings = FocalLoss(gamma: 2.5, uncertainty: .scalar(0.05))
        Self.expectClose(try engine.focalLoss(detection: logits, targets: targets, samples: 3001, classes: 7, settings),
                         try FocalLossReference.focalLoss(detection: logits, targets: targets, samples: 3001, classes: 7, settings),
                         "detection, work-group size \(workGroupSize), \(variant.map(String.init(describing:)) ?? "tuned")")
        let (segLogits, labels) = Fixtures.segmentation(batch: 2, classes: 5, height: 37, width: 41, seed: 91)
        let segSettings = FocalLoss(activation: .softmax, gamma: 2)
        Self.expectClose(try engine.focalLoss(segmentation: segLogits, labels: labels, batch: 2, classes: 5, height: 37,
                                              width: 41, segSettings),
                         try FocalLossReference.focalLoss(segmentation: segLogits, labels: labels, batch: 2, classes: 5,
                                                          height: 37, width: 41, segSettings),
                         "segmentation, work-group size \(workGroupSize), \(variant.map(String.init(describing:)) ?? "tuned")")
    }
}
