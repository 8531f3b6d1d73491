import Foundation
import REGDiagnostics
import Testing
@testable import REG

/// Positive samples (rows with a target > 0) as the detection kernel counts them: under item
/// partials from the lanes' bits and a carry between vectors and across work-items' chunks, under
/// work-group trees by a look-back; both against a count by hand.
@Suite("Focal loss: positive samples counted in the detection kernel")
struct FocalLossPositivesTests {
    static let setups: [KernelSetup] = [
        KernelSetup(variant: nil, workGroupSize: nil),
        KernelSetup(variant: try! .vectorItems(4), workGroupSize: 3),
        KernelSetup(variant: try! .vectorItems(8), workGroupSize: 1),
        KernelSetup(variant: try! KernelVariant(vectorWidth: 2, itemPartials: true), workGroupSize: 5),
        KernelSetup(variant: try! KernelVariant(vectorWidth: 1, itemPartials: true), workGroupSize: 64),
        KernelSetup(variant: .scalarGroups, workGroupSize: 7),
    ]

    /// Targets of `samples` rows of `classes`: mostly 0, positives at `density`, some soft ones
    /// (1e−6 counts as positive, −0 does not), a few rows entirely positive and a few whose only
    /// positive is their first or last class (a row start or end inside a vector).
    static func targets(samples: Int, classes: Int, density: Double, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        var targets = [Float](repeating: 0, count: samples * classes)
        for i in targets.indices {
            let u = Double(random.next() >> 11) / Double(1 << 53)
            if u < density { targets[i] = [1, 0.5, 1e-6][Int(random.next() % 3)] }
            if u > 0.999 { targets[i] = -0.0 }
        }
        for n in stride(from: 0, to: samples, by: 97) {
            for c in 0..<classes { targets[n * classes + c] = 1 }
        }
        for n in stride(from: 13, to: samples, by: 89) { targets[n * classes] = 1 }
        for n in stride(from: 29, to: samples, by: 83) { targets[n * classes + classes - 1] = 1 }
        return targets
    }

    static func positives(_ targets: [Float], classes: Int) -> Int {
        stride(from: 0, to: targets.count, by: classes).filter { row in (row..<row + classes).contains { targets[$0] > 0 } }.count
    }

    @Test("Every class count against a count by hand, with and without the positives pre-pass", arguments: setups)
    func counts(setup: KernelSetup) throws {
        let engine = try setup.engine()
        for classes in [1, 2, 3, 7, 8, 15, 16, 17, 31, 64, 80, 81] {
            for (density, seed) in [(0.0, 1), (0.002, 2), (0.05, 3), (0.6, 4)] as [(Double, UInt64)] {
                let samples = 3001
                let targets = Self.targets(samples: samples, classes: classes, density: density, seed: seed &+ UInt64(classes))
                let logits = [Float](repeating: -1, count: targets.count)
                let want = Self.positives(targets, classes: classes)
                for normalizer in [FocalLoss.Normalizer.samples, .positives] {
                    let result = try engine.focalLoss(detection: logits, targets: targets, samples: samples, classes: classes,
                                                      FocalLoss(gamma: 2, normalizer: normalizer))
                    #expect(result.positives == want && result.count == samples,
                            "\(setup.testDescription): C = \(classes), density \(density), \(normalizer): \(result.positives) positives, want \(want)")
                }
            }
        }
    }

    /// Enough elements that each work-item of the CPU row takes more than the minimum chunk, so that
    /// chunks start at arbitrary classes of a row.
    @Test("A large batch: chunks that start inside rows", arguments: [KernelSetup(variant: nil, workGroupSize: nil),
                                                                    KernelSetup(variant: .scalarGroups, workGroupSize: 64)])
    func large(setup: KernelSetup) throws {
        let engine = try setup.engine()
        let (samples, classes) = (300_007, 7)
        let targets = Self.targets(samples: samples, classes: classes, density: 0.01, seed: 99)
        let logits = [Float](repeating: 0.5, count: targets.count)
        let result = try engine.focalLoss(detection: logits, targets: targets, samples: samples, classes: classes, FocalLoss(gamma: 2))
        #expect(result.positives == Self.positives(targets, classes: classes), "\(setup.testDescription)")
    }
}
