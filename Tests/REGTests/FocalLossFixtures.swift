import Foundation
@testable import REG
@testable import REGDiagnostics

/// Inputs for the focal-loss tests, fixed by their seeds.
enum FocalLossFixtures {
    /// Detection logits in ±`range` and targets: mostly 0/1 one-hot rows, some soft (every 5th
    /// element), kept at least 0.05 from σ(z) so that finite differences never straddle |y − p| = 0.
    static func detection(samples: Int, classes: Int, seed: UInt64, range: Float = 30,
                          extremes: Bool = false, soft: Bool = true) -> (logits: [Float], targets: [Float]) {
        var random = SplitMix64(seed: seed)
        var logits = random.floats(samples * classes, in: -range...range)
        if extremes {
            for i in stride(from: 3, to: logits.count, by: 11) { logits[i] = i % 2 == 0 ? 1e4 : -1e4 }
        }
        var targets = [Float](repeating: 0, count: samples * classes)
        for n in 0..<samples where classes > 0 {
            targets[n * classes + Int.random(in: 0..<classes, using: &random)] = 1
        }
        if soft {
            for i in stride(from: 2, to: targets.count, by: 5) {
                let p = 1 / (1 + exp(-Double(logits[i])))
                var y = Float.random(in: 0...1, using: &random)
                if abs(Double(y) - p) < 0.05 { y = p < 0.5 ? Float(p) + 0.3 : Float(p) - 0.3 }
                targets[i] = y
            }
        }
        return (logits, targets)
    }

    /// Segmentation logits in ±`range` and labels 0…C with about `ignored` of them 255.
    static func segmentation(batch: Int, classes: Int, height: Int, width: Int, seed: UInt64, range: Float = 30,
                             extremes: Bool = false, ignored: Double = 0.1) -> (logits: [Float], labels: [UInt8]) {
        var random = SplitMix64(seed: seed)
        var logits = random.floats(batch * classes * height * width, in: -range...range)
        if extremes {
            for i in stride(from: 1, to: logits.count, by: 7) { logits[i] = i % 3 == 0 ? -1e4 : 1e4 }
        }
        let labels = (0..<(batch * height * width)).map { _ -> UInt8 in
            Double.random(in: 0..<1, using: &random) < ignored ? 255 : UInt8.random(in: 0...UInt8(classes), using: &random)
        }
        return (logits, labels)
    }

    static func alpha(classes: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        return random.floats(classes, in: 0.25...3)
    }

    /// Spatial inputs laid out like `count` logits: weights in [0, 2], or distances in [0, 60]
    /// with every 9th +∞ (no ground truth of that class).
    static func spatial(_ kind: SpatialKind, count: Int, seed: UInt64) -> FocalLoss.SpatialWeight {
        var random = SplitMix64(seed: seed)
        switch kind {
        case .none: return .none
        case .weights: return .weights(random.floats(count, in: 0...2))
        case .distances:
            var d = random.floats(count, in: 0...60)
            for i in stride(from: 4, to: count, by: 9) { d[i] = .infinity }
            return .distances(d, Refinement(beta: 0.2, delta: 20))
        }
    }

    /// σ: none, one scalar, or per element in [0.01, 0.3] with every 7th element 0.
    static func uncertainty(_ kind: UncertaintyKind, count: Int, seed: UInt64) -> FocalLoss.Uncertainty {
        var random = SplitMix64(seed: seed)
        switch kind {
        case .none: return .none
        case .scalar(let sigma): return .scalar(sigma)
        case .perElement:
            var sigma = random.floats(count, in: 0.01...0.3)
            for i in stride(from: 6, to: count, by: 7) { sigma[i] = 0 }
            return .perElement(sigma)
        }
    }

    /// σ of element `i` under `uncertainty`.
    static func sigmaValue(_ uncertainty: FocalLoss.Uncertainty, _ i: Int) -> Double {
        switch uncertainty {
        case .none: 0
        case .scalar(let s): Double(s)
        case .perElement(let s): Double(s[i])
        }
    }

    enum SpatialKind: CaseIterable, CustomStringConvertible {
        case none, weights, distances
        var description: String { "\(self == .none ? "g=1" : self == .weights ? "g" : "d")" }
    }

    enum UncertaintyKind: CustomStringConvertible {
        case none, scalar(Float), perElement
        var description: String {
            switch self {
            case .none: "σ=0"
            case .scalar(let s): "σ=\(s)"
            case .perElement: "σ map"
            }
        }
    }
}
