/// Class weights α_c from annotation counts N_c (docs/math.md §4, paper A.8, A.10.2, §2.6.2), for
/// `FocalLoss.alpha`.
public enum ClassWeights {
    public enum Scheme: String, Sendable, CaseIterable {
        /// α_c = N_total / N_c (paper eq. 1).
        case inverseFrequency
        /// α_c = N_total / (C · N_c) (paper A.10.2): the inverse frequencies divided by C, so a
        /// balanced dataset gets α ≡ 1.
        case balanced
        /// α_c = (1/N_c) / Σ_k (1/N_k): the inverse frequencies scaled to Σ α_c = 1 (paper §2.6.2).
        case normalized
    }

    /// α per class, computed in float64 and rounded once. Throws `InvalidArgument` naming the class
    /// (`counts[c]`) for a count that is not positive, and for an empty list.
    public static func alpha(counts: [Int], _ scheme: Scheme) throws(InvalidArgument) -> [Float] {
        guard !counts.isEmpty else { throw InvalidArgument("counts", "must name at least one class") }
        if let c = counts.firstIndex(where: { $0 <= 0 }) {
            throw InvalidArgument("counts", index: [c], "class \(c) has \(counts[c]) annotations; every class needs a positive count")
        }
        let total = counts.reduce(0.0) { $0 + Double($1) }
        let inverse = counts.map { 1 / Double($0) }
        let weights: [Double]
        switch scheme {
        case .inverseFrequency: weights = inverse.map { total * $0 }
        case .balanced: weights = inverse.map { total / Double(counts.count) * $0 }
        case .normalized:
            let sum = inverse.reduce(0, +)
            weights = inverse.map { $0 / sum }
        }
        return weights.map(Float.init)
    }
}
