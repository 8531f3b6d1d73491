import Foundation
import Testing
@testable import REG
import REGRuntime

/// IEEE float16 inputs and gradients: the device reads float16 logits (and targets) and computes in
/// float32, so it must meet docs/math.md §7 against the float64 reference fed the same half values.
@Suite("Focal loss: float16 inputs and gradients")
struct FocalLossHalfTests {
    typealias Fixtures = FocalLossFixtures

    static func half(_ values: [Float]) -> [Float16] { values.map { Float16($0) } }
    static func widened(_ values: [Float16]) -> [Float] { values.map(Float.init) }

    @Test("Detection: float16 logits and targets against the reference on the same values", arguments: KernelSetup.both)
    func detection(setup: KernelSetup) throws {
        let engine = try setup.engine()
        for (samples, classes, seed) in [(1, 1, 11), (5, 3, 12), (1001, 7, 13)] as [(Int, Int, UInt64)] {
            // ±1e4 does not fit a half (max 65504 fits; 1e4 does): keep extremes, they are exact halves.
            let (logits32, targets32) = Fixtures.detection(samples: samples, classes: classes, seed: seed, extremes: true)
            let logits = Self.half(logits32), targets = Self.half(targets32)
            let n = logits.count
            for settings in [
                FocalLoss(alpha: Fixtures.alpha(classes: classes, seed: seed), gamma: 2,
                          spatial: Fixtures.spatial(.distances, count: n, seed: seed)),
                FocalLoss(gamma: 2.5, uncertainty: Fixtures.uncertainty(.perElement, count: n, seed: seed), reduction: .none),
                FocalLoss(gamma: 0.5, reduction: .sum, normalizer: .positives),
            ] {
                let device = try engine.focalLoss(detection: logits, targets: targets, samples: samples, classes: classes, settings)
                let reference = try FocalLossReference.focalLoss(detection: Self.widened(logits), targets: Self.widened(targets),
                                                                 samples: samples, classes: classes, settings)
                FocalLossDeviceTests.expectClose(device, reference, "\(setup.testDescription): [\(samples), \(classes)] γ \(settings.gamma)")
                #expect(device.positives == reference.positives)
            }
        }
    }

    @Test("Segmentation: float16 logits, sigmoid and softmax, against the reference", arguments: KernelSetup.both)
    func segmentation(setup: KernelSetup) throws {
        let engine = try setup.engine()
        let (logits32, labels) = Fixtures.segmentation(batch: 2, classes: 4, height: 9, width: 13, seed: 21, extremes: true)
        let logits = Self.half(logits32)
        for activation in FocalLoss.Activation.allCases {
            let settings = FocalLoss(activation: activation, gamma: 2, uncertainty: .scalar(0.05))
            FocalLossDeviceTests.expectClose(
                try engine.focalLoss(segmentation: logits, labels: labels, batch: 2, classes: 4, height: 9, width: 13, settings),
                try FocalLossReference.focalLoss(segmentation: Self.widened(logits), labels: labels, batch: 2, classes: 4,
                                                 height: 9, width: 13, settings),
                "\(setup.testDescription): \(activation)")
        }
    }

    /// A float16 gradient is the float32 one rounded to nearest: within one half ulp of the
    /// reference rounded to half (the float32 value may sit on the other side of a rounding tie).
    static func expectHalfOfReference(_ device: [Float], _ reference: [Double], _ what: String) {
        #expect(device.allSatisfy { Float(Float16($0)) == $0 }, "\(what): the gradient holds half values")
        let bad = device.indices.first { i in
            let expected = Float16(Float(reference[i])), got = Float16(device[i])
            return !(got == expected || got == expected.nextUp || got == expected.nextDown)
        }
        #expect(bad == nil, "\(what): [\(bad ?? -1)] = \(bad.map { device[$0] } ?? 0) vs \(bad.map { reference[$0] } ?? 0)")
    }

    @Test("Float16 gradients are the reference's rounded to half, to one half-precision ulp", arguments: KernelSetup.both)
    func halfGradients(setup: KernelSetup) throws {
        let engine = try setup.engine()
        let (logits, targets) = Fixtures.detection(samples: 777, classes: 5, seed: 31, range: 12)
        let n = logits.count
        let settings = FocalLoss(gamma: 2, uncertainty: Fixtures.uncertainty(.perElement, count: n, seed: 32), gradientScale: 500)
        // Float32 inputs, float16 gradients.
        let reference = try FocalLossReference.focalLoss(detection: logits, targets: targets, samples: 777, classes: 5, settings)
        let device = try engine.focalLoss(detection: logits, targets: targets, samples: 777, classes: 5, settings, gradient: .float16)
        Self.expectHalfOfReference(device.gradient, reference.gradient, "float32 inputs: ∂L/∂logits")
        Self.expectHalfOfReference(device.sigmaGradient!, reference.sigmaGradient!, "float32 inputs: ∂L/∂σ")
        // Float16 inputs and gradients, against the reference on the same half values.
        let logits16 = Self.half(logits), targets16 = Self.half(targets)
        let reference16 = try FocalLossReference.focalLoss(detection: Self.widened(logits16), targets: Self.widened(targets16),
                                                           samples: 777, classes: 5, settings)
        let device16 = try engine.focalLoss(detection: logits16, targets: targets16, samples: 777, classes: 5, settings,
                                            gradient: .float16)
        Self.expectHalfOfReference(device16.gradient, reference16.gradient, "float16 inputs: ∂L/∂logits")
        #expect(abs(Double(device16.loss) - reference16.loss) <= 1e-5 * abs(reference16.loss))
        // The CPU reference engine honours the request the same way.
        let cpu = try Engines.reference().focalLoss(detection: logits, targets: targets, samples: 777, classes: 5, settings,
                                                    gradient: .float16)
        #expect(cpu.gradient == reference.gradient.map { Float(Float16(Float($0))) })
    }

    @Test("HalfPrecision.widen is Float(Float16) for all 65536 bit patterns")
    func widenAllHalves() {
        let halves = (0...UInt16.max).map { Float16(bitPattern: $0) }
        let widened = HalfPrecision.widen(halves)
        let bad = halves.indices.first { i in
            let expected = Float(halves[i])
            return expected.isNaN ? !widened[i].isNaN || widened[i].sign != expected.sign
                                  : widened[i].bitPattern != expected.bitPattern
        }
        #expect(bad == nil, "bits \(bad.map { String(halves[$0].bitPattern, radix: 16) } ?? "")")
    }

    @Test("Float16 inputs: bitwise repeatable", arguments: KernelSetup.both)
    func repeatable(setup: KernelSetup) throws {
        let engine = try setup.engine()
        let (logits32, targets32) = Fixtures.detection(samples: 3001, classes: 7, seed: 41)
        let logits = Self.half(logits32), targets = Self.half(targets32)
        let settings = FocalLoss(gamma: 2, spatial: Fixtures.spatial(.distances, count: logits.count, seed: 42))
        let first = try engine.focalLoss(detection: logits, targets: targets, samples: 3001, classes: 7, settings, gradient: .float16)
        for _ in 0..<2 {
            #expect(try engine.focalLoss(detection: logits, targets: targets, samples: 3001, classes: 7, settings,
                                         gradient: .float16) == first)
        }
    }
}
