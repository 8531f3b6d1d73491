import Foundation
import Testing
@testable import REG

/// The sigmoid kernels' log(1 + e^(−|z|)) (Kernels/focal_loss.cl, reg_log1p_unit: a polynomial,
/// not the device's log1p) over every logit a float can hold, several ulp tighter than the
/// contract. With γ = 0, no α and reduction none, ℓ is the BCE alone: softplus(z) for y = 0 and
/// softplus(−z) for y = 1, each evaluated in float64 from the same float32 logit.
@Suite("Focal loss: the sigmoid's softplus over the whole logit range")
struct FocalLossSoftplusTests {
    /// A dense sweep of [−120, 120] (e^(−|z|) from 1 down to 0 through the subnormals), |z| from
    /// 1e−30 to 1 on a log scale (where log(1 + e) ≈ log 2 and e ≈ 1), ±1e4, ±0 and the largest floats.
    static let logits: [Float] = {
        var z: [Float] = (0...48_000).map { -120 + 240 * Float($0) / 48_000 }
        for k in 0...300 {
            let magnitude = Float(pow(10, -30 + 30 * Double(k) / 300))
            z += [magnitude, -magnitude]
        }
        z += [1e4, -1e4, 0, -0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 87.3, -87.3, 103.9, -103.9]
        return z
    }()

    static func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }

    @Test("ℓ = softplus(±z) within 4 ulp for every logit, on every vector width",
          arguments: [KernelSetup(variant: nil, workGroupSize: nil),
                      KernelSetup(variant: .scalarGroups, workGroupSize: 64),
                      KernelSetup(variant: try! .vectorItems(4), workGroupSize: 8)])
    func softplus(setup: KernelSetup) throws {
        let engine = try setup.engine()
        let z = Self.logits
        for y: Float in [0, 1] {
            let result = try engine.focalLoss(detection: z, targets: [Float](repeating: y, count: z.count),
                                              samples: z.count, classes: 1, FocalLoss(gamma: 0, reduction: .none))
            let loss = try #require(result.elementLoss)
            var worst = (ratio: 0.0, index: 0)
            for i in z.indices {
                let want = Self.softplus(y == 0 ? Double(z[i]) : -Double(z[i]))
                let ulp = Double(Float(want).ulp)
                let ratio = abs(Double(loss[i]) - want) / ulp
                if !(ratio <= worst.ratio) { worst = (ratio, i) }
            }
            #expect(worst.ratio <= 4, "\(setup.testDescription), y = \(y): ℓ at z = \(z[worst.index]) is \(loss[worst.index]), want \(Self.softplus(y == 0 ? Double(z[worst.index]) : -Double(z[worst.index]))) (\(worst.ratio) ulp)")
        }
    }
}
