import Foundation
import Testing
@testable import REG

/// The focal kernels' variants (KernelVariant: vector width × item partials or work-group trees),
/// each forced on the test device and held against the float64 reference.
@Suite("Focal loss: kernel variants")
struct FocalLossVariantTests {
    typealias Fixtures = FocalLossFixtures

    /// Every width, both reductions, and work-group sizes that do not divide the launch.
    static let setups: [KernelSetup] = [
        KernelSetup(variant: .scalarGroups, workGroupSize: 7),
        KernelSetup(variant: try! .vectorItems(4), workGroupSize: 64),
        KernelSetup(variant: try! .vectorItems(8), workGroupSize: 1),
        KernelSetup(variant: try! .vectorItems(16), workGroupSize: nil),
        KernelSetup(variant: try! KernelVariant(vectorWidth: 2, itemPartials: false), workGroupSize: 33),
        KernelSetup(variant: try! KernelVariant(vectorWidth: 1, itemPartials: true), workGroupSize: 100),
    ]

    /// Sizes whose last vector is partial at every width (odd counts, maps of odd area).
    @Test("Every variant against the reference: tails, σ, distances, softmax, reduction none", arguments: setups)
    func variants(setup: KernelSetup) throws {
        let engine = try setup.engine()
        for (samples, classes, seed) in [(1, 1, 1), (3, 5, 2), (333, 7, 3), (4099, 3, 4)] as [(Int, Int, UInt64)] {
            let (logits, targets) = Fixtures.detection(samples: samples, classes: classes, seed: seed, extremes: true)
            let n = logits.count
            let settings = [
                FocalLoss(alpha: Fixtures.alpha(classes: classes, seed: seed), gamma: 2,
                          spatial: Fixtures.spatial(.distances, count: n, seed: seed),
                          uncertainty: Fixtures.uncertainty(.perElement, count: n, seed: seed), reduction: .mean),
                // γ < 1 without σ: with σ, p̂ can land next to a soft target, where |y − p̂|^(γ−1) is
                // ill-conditioned in float (the same on every variant).
                FocalLoss(positiveFraction: 0.25, gamma: 0.5, reduction: .none),
                FocalLoss(gamma: 2.5, spatial: Fixtures.spatial(.weights, count: n, seed: seed), uncertainty: .scalar(0.05),
                          normalizer: .positives),
            ]
            for (k, setting) in settings.enumerated() {
                FocalLossDeviceTests.expectClose(
                    try engine.focalLoss(detection: logits, targets: targets, samples: samples, classes: classes, setting),
                    try FocalLossReference.focalLoss(detection: logits, targets: targets, samples: samples, classes: classes, setting),
                    "\(setup.testDescription): detection [\(samples), \(classes)] settings \(k)")
            }
        }
        for (batch, classes, height, width, seed) in [(1, 2, 1, 1, 5), (2, 5, 7, 11, 6), (3, 4, 13, 17, 7)] as [(Int, Int, Int, Int, UInt64)] {
            let (logits, labels) = Fixtures.segmentation(batch: batch, classes: classes, height: height, width: width,
                                                         seed: seed, extremes: true)
            let n = logits.count
            let settings = [
                FocalLoss(activation: .softmax, alpha: Fixtures.alpha(classes: classes, seed: seed), gamma: 2,
                          spatial: Fixtures.spatial(.distances, count: n, seed: seed)),
                FocalLoss(activation: .softmax, gamma: 1.5, uncertainty: Fixtures.uncertainty(.perElement, count: n, seed: seed),
                          reduction: .none),
                FocalLoss(activation: .sigmoid, positiveFraction: 0.25, gamma: 2, uncertainty: .scalar(0.1),
                          normalizer: .positives),
            ]
            for (k, setting) in settings.enumerated() {
                FocalLossDeviceTests.expectClose(
                    try engine.focalLoss(segmentation: logits, labels: labels, batch: batch, classes: classes,
                                         height: height, width: width, setting),
                    try FocalLossReference.focalLoss(segmentation: logits, labels: labels, batch: batch, classes: classes,
                                                     height: height, width: width, setting),
                    "\(setup.testDescription): segmentation [\(batch), \(classes), \(height), \(width)] settings \(k)")
            }
        }
    }

    /// Logits across the whole float range that matters: ±1e4, the edge of exp's range, the logits
    /// whose probability σ(z) or 1 − σ(z) is subnormal (|z| ≈ 88…103), and near zero; with 0/1 and
    /// soft targets, every γ path (0, integer, fractional < 1 and > 1), with and without σ.
    @Test("Extreme logits and subnormal probabilities, both kernel variants", arguments: KernelSetup.both)
    func extremes(setup: KernelSetup) throws {
        let engine = try setup.engine()
        let values: [Float] = [-1e4, -150, -103.5, -100, -95, -89, -87.3, -40, -17, -1, -1e-6, 0, 1e-6, 0.5, 1, 17,
                               40, 87.3, 89, 95, 100, 103.5, 150, 1e4]
        let targetValues: [Float] = [0, 1, 0.3, 1e-6, 0.999]
        var logits: [Float] = [], targets: [Float] = []
        for z in values {
            for y in targetValues {
                logits.append(z)
                targets.append(y)
            }
        }
        let samples = logits.count
        for gamma: Float in [0, 0.5, 1, 2, 2.5] {
            for uncertainty in [FocalLoss.Uncertainty.none, .scalar(0.02)] {
                let settings = FocalLoss(gamma: gamma, uncertainty: uncertainty, reduction: .sum)
                let device = try engine.focalLoss(detection: logits, targets: targets, samples: samples, classes: 1, settings)
                let reference = try FocalLossReference.focalLoss(detection: logits, targets: targets, samples: samples,
                                                                 classes: 1, settings)
                FocalLossDeviceTests.expectClose(device, reference, "\(setup.testDescription): γ \(gamma) \(uncertainty)")
            }
        }
        // Softmax pixels whose top logit dominates by up to 2e4 (other classes' p subnormal or 0).
        var segLogits: [Float] = []
        let pixels = values.count
        for k in 0..<3 { segLogits += values.map { $0 * Float(k) / 2 } }
        let labels = (0..<pixels).map { UInt8($0 % 4) }
        for gamma: Float in [0, 0.5, 2] {
            let settings = FocalLoss(activation: .softmax, gamma: gamma)
            FocalLossDeviceTests.expectClose(
                try engine.focalLoss(segmentation: segLogits, labels: labels, batch: 1, classes: 3, height: 1, width: pixels, settings),
                try FocalLossReference.focalLoss(segmentation: segLogits, labels: labels, batch: 1, classes: 3, height: 1,
                                                 width: pixels, settings),
                "\(setup.testDescription): softmax γ \(gamma)")
        }
    }

    @Test("Variant names round-trip; the CPU row vectorises with item partials; bad widths are refused")
    func table() throws {
        for name in ["scalar-groups", "scalar-items", "vector2-groups", "vector4-items", "vector8-items", "vector16-groups"] {
            #expect(KernelVariant(name: name).map(String.init(describing:)) == name)
        }
        for bad in ["", "vector3-items", "vector32-items", "scalar", "vector16-trees", "vector-items"] {
            #expect(KernelVariant(name: bad) == nil, "\(bad)")
        }
        #expect(throws: InvalidArgument("vectorWidth", "must be 1, 2, 4, 8 or 16, got 3")) {
            try KernelVariant(vectorWidth: 3, itemPartials: true)
        }
        let engine = try Engines.device()
        let device = try #require(engine.device)
        let tuned = KernelVariant.tuned(for: device)
        if device.kind == .cpu {
            #expect(tuned.itemPartials && (4...16).contains(tuned.vectorWidth))
        } else {
            #expect(tuned == .scalarGroups)
        }
    }

    @Test("Single-operation calls reuse the routine's device buffers while sizes repeat, with the same bits")
    func workspaceReuse() throws {
        let engine = try Engines.device()
        let (logits, targets) = Fixtures.detection(samples: 513, classes: 6, seed: 61)
        let settings = FocalLoss(gamma: 2, spatial: Fixtures.spatial(.distances, count: logits.count, seed: 62))
        let first = try engine.focalLoss(detection: logits, targets: targets, samples: 513, classes: 6, settings)
        let routine = try #require(engine.cachedRoutine(FocalLossRoutine.self))
        let allocated = routine.workspace.allocations
        #expect(allocated > 0)
        for _ in 0..<2 {
            #expect(try engine.focalLoss(detection: logits, targets: targets, samples: 513, classes: 6, settings) == first)
        }
        #expect(routine.workspace.allocations == allocated, "same-size calls allocate nothing")
        // A smaller call fits the same buffers and reads only its own elements.
        let small = Array(logits.prefix(60)), smallTargets = Array(targets.prefix(60))
        let smallSettings = FocalLoss(gamma: 2, spatial: Fixtures.spatial(.distances, count: 60, seed: 63))
        FocalLossDeviceTests.expectClose(
            try engine.focalLoss(detection: small, targets: smallTargets, samples: 10, classes: 6, smallSettings),
            try FocalLossReference.focalLoss(detection: small, targets: smallTargets, samples: 10, classes: 6, smallSettings),
            "a smaller call after a larger one")
        #expect(routine.workspace.allocations == allocated)
    }
}
