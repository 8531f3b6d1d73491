import Foundation
import Testing
@testable import REG

/// The float64 reference against closed forms and values written out by hand.
@Suite("Focal loss: the reference against closed forms")
struct FocalLossClosedFormTests {
    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
        abs(a - b) <= tolerance * max(abs(b), 1e-300)
    }

    @Test("γ = 0 is weighted binary cross-entropy (detection and segmentation sigmoid)")
    func weightedBCE() throws {
        let (logits, targets) = FocalLossFixtures.detection(samples: 9, classes: 4, seed: 31, range: 8)
        let alpha: [Float] = [0.5, 1, 2, 4]
        let settings = FocalLoss(alpha: alpha, gamma: 0, reduction: .mean)
        let result = try FocalLossReference.focalLoss(detection: logits, targets: targets, samples: 9, classes: 4, settings)
        var sum = 0.0
        for i in logits.indices {
            let p = 1 / (1 + exp(-Double(logits[i]))), y = Double(targets[i])
            sum += Double(alpha[i % 4]) * -(y * log(p) + (1 - y) * log(1 - p))
            // ∂/∂z of the weighted BCE is α (p − y); the mean divides by N = 9.
            #expect(Self.close(result.gradient[i], Double(alpha[i % 4]) * (p - y) / 9, 1e-10))
        }
        #expect(Self.close(result.sum, sum))
        #expect(Self.close(result.loss, sum / 9))
        #expect(result.count == 9)

        let labels: [UInt8] = [0, 1, 2, 255, 1, 0]
        let (segLogits, _) = FocalLossFixtures.segmentation(batch: 1, classes: 2, height: 2, width: 3, seed: 32, range: 8)
        let seg = try FocalLossReference.focalLoss(segmentation: segLogits, labels: labels, batch: 1, classes: 2,
                                                   height: 2, width: 3, FocalLoss(gamma: 0, reduction: .sum))
        var expected = 0.0
        for (j, label) in labels.enumerated() where label != 255 {
            for k in 0..<2 {
                let p = 1 / (1 + exp(-Double(segLogits[k * 6 + j]))), y: Double = Int(label) == k + 1 ? 1 : 0
                expected += -(y * log(p) + (1 - y) * log(1 - p))
            }
        }
        #expect(Self.close(seg.loss, expected))
        #expect(seg.count == 5)
        #expect(seg.gradient[3] == 0 && seg.gradient[9] == 0, "the ignored pixel gets no gradient")
    }

    /// torchvision.ops.sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    ///     p = sigmoid(x); ce = BCE-with-logits; p_t = p·t + (1−p)(1−t)
    ///     loss = (α·t + (1−α)(1−t)) · ce · (1 − p_t)^γ
    /// evaluated in float64 for these inputs. (torchvision's "mean" divides by N·C; REG's mean
    /// divides by N, so the comparison uses "none" and "sum".)
    @Test("α_c = 1, a = 0.25, g = 1 and 0/1 targets reproduce torchvision's sigmoid_focal_loss")
    func torchvision() throws {
        let logits: [Float] = [-2, 0.5, 3, 1.25, -0.75, 0]
        let targets: [Float] = [0, 1, 1, 1, 0, 0]
        let expectedLoss = [0.0013526721264302821, 0.016893372629375902, 2.732083112424913e-05,
                            0.0031236278565602137, 0.029864402976805395, 0.12996509635498973]
        // d/dx of the same: α_t (1−p)^γ (γ p log p − (1−p)) for t = 1, α_t p^γ (p − γ (1−p) log(1−p)) for t = 0.
        let expectedGradient = [0.0036532051465445743, -0.0344842493377286, -7.871796162206962e-05,
                                -0.007617213933095615, 0.06533224652159149, 0.22371509635498976]
        let settings = FocalLoss(positiveFraction: 0.25, gamma: 2, reduction: .none)
        let result = try FocalLossReference.focalLoss(detection: logits, targets: targets, samples: 2, classes: 3, settings)
        for i in logits.indices {
            #expect(Self.close(result.elementLoss![i], expectedLoss[i]), "ℓ[\(i)]")
            #expect(Self.close(result.gradient[i], expectedGradient[i], 1e-10), "∂ℓ/∂x[\(i)]")
        }
        #expect(Self.close(result.sum, 0.1812264927752858))
        let device = try Engines.device().focalLoss(detection: logits, targets: targets, samples: 2, classes: 3, settings)
        for i in logits.indices {
            #expect(abs(Double(device.elementLoss![i]) - expectedLoss[i]) <= 1e-6 * expectedLoss[i])
        }
    }

    /// Values from the textbook forms (p̂ = p + σ(φ(a) − φ(b))/(Φ(b) − Φ(a)), Φ through erf, g
    /// = 1/(1 + e^(−β(d − δ)))) evaluated by hand in float64 at the float32 inputs (0.4f, 0.1f, …),
    /// not through REG's stable forms.
    @Test("Hand-computed scalar cases with refinement and σ", arguments: [
        // z, y, α, a, γ, spatial, σ, expected ℓ
        (Float(0.4), Float(1), Float(2), Float?.none, Float(2), FocalLoss.SpatialWeight.distances([12], Refinement(beta: 0.5, delta: 10)),
         Float(0.1), 0.12081557037425786),
        (-1.3, 0, 0.5, 0.25, 0.5, .weights([1.7]), 0.2, 0.10202884630471479),
        (3, 1, 1, nil, 0, .none, 0.5, 0.46755789384106766),
    ] as [(Float, Float, Float, Float?, Float, FocalLoss.SpatialWeight, Float, Double)])
    func scalarCases(z: Float, y: Float, alpha: Float, split: Float?, gamma: Float, spatial: FocalLoss.SpatialWeight,
                     sigma: Float, expected: Double) throws {
        let settings = FocalLoss(alpha: [alpha], positiveFraction: split, gamma: gamma, spatial: spatial,
                                 uncertainty: .scalar(sigma), reduction: .sum)
        let reference = try FocalLossReference.focalLoss(detection: [z], targets: [y], samples: 1, classes: 1, settings)
        #expect(Self.close(reference.loss, expected, 1e-12), "\(reference.loss) vs \(expected)")
        let device = try Engines.device().focalLoss(detection: [z], targets: [y], samples: 1, classes: 1, settings)
        #expect(abs(Double(device.loss) - expected) <= 1e-5 * expected, "device \(device.loss) vs \(expected)")
    }

    @Test("Softmax: a hand-computed pixel")
    func softmaxPixel() throws {
        // z = (1, −0.5, 2), label 2 (channel 1), α = (1, 2, 3), γ = 1:
        // p = softmax(z); ℓ = Σ_k α_k |y_k − p_k| BCE(p_k, y_k) = 7.91321153756033.
        let settings = FocalLoss(activation: .softmax, alpha: [1, 2, 3], gamma: 1, reduction: .mean)
        let reference = try FocalLossReference.focalLoss(segmentation: [1, -0.5, 2], labels: [2] as [UInt8], batch: 1,
                                                         classes: 3, height: 1, width: 1, settings)
        #expect(Self.close(reference.loss, 7.91321153756033))
        #expect(abs(reference.gradient.reduce(0, +)) < 1e-12, "softmax gradients sum to 0 over a pixel")
    }

    @Test("Saturated logits: finite loss and gradient, exact limits")
    func saturation() throws {
        // y = 1 at z = −1e4: BCE = 1e4 (softplus), |1 − p|^γ = 1, ∂/∂z = −1 for γ = 0.
        for gamma: Float in [0, 0.5, 2] {
            let settings = FocalLoss(gamma: gamma, reduction: .sum)
            let wrong = try FocalLossReference.focalLoss(detection: [-1e4, 1e4], targets: [1, 0], samples: 1,
                                                         classes: 2, settings)
            #expect(Self.close(wrong.loss, 2e4))
            #expect(wrong.gradient == [-1, 1])
            let right = try FocalLossReference.focalLoss(detection: [1e4, -1e4], targets: [1, 0], samples: 1,
                                                         classes: 2, settings)
            #expect(right.loss == 0 && right.gradient.allSatisfy { $0 == 0 })
            for engine in [try Engines.device(), try Engines.reference()] {
                let device = try engine.focalLoss(detection: [-1e4, 1e4, 1e4, -1e4], targets: [1, 0, 1, 0],
                                                  samples: 2, classes: 2, settings)
                #expect(device.loss == 2e4 && device.gradient == [-1, 1, 0, 0], "γ \(gamma): \(device)")
            }
        }
        // With σ > 0 the confident, correct prediction keeps a floor: p̂ < 1.
        let withSigma = try FocalLossReference.focalLoss(detection: [1e4], targets: [1], samples: 1, classes: 1,
                                                         FocalLoss(gamma: 0, uncertainty: .scalar(0.05), reduction: .sum))
        #expect(withSigma.loss > 0 && withSigma.loss.isFinite && withSigma.gradient[0] == 0)
        #expect(withSigma.scalarSigmaGradient! > 0, "more spread, more loss for a confident correct prediction")
    }
}
