/// The float64 CPU reference of the refinement: the oracle for tests and the fallback.
public enum RefinementReference {
    /// `σ(β · (d − δ))` in float64, stable for every β and for infinite d.
    public static func weight(distance d: Double, beta: Double, delta: Double) -> Double {
        let t: Double
        if beta == 0 {
            t = 0
        } else if d.isInfinite {
            t = (beta > 0) == (d > 0) ? .infinity : -.infinity
        } else {
            t = beta * (d - delta)
        }
        return sigmoid(t)
    }

    /// Every distance's weight in float64. Throws `InvalidArgument` at the first NaN distance.
    public static func refine(distances: [Float], _ refinement: Refinement) throws(InvalidArgument) -> [Double] {
        try refinement.validate()
        let beta = Double(refinement.beta)
        let delta = Double(refinement.delta)
        var weights = [Double](repeating: 0, count: distances.count)
        for (i, d) in distances.enumerated() {
            guard !d.isNaN else { throw InvalidArgument("distances", index: [i], "is NaN") }
            weights[i] = weight(distance: Double(d), beta: beta, delta: delta)
        }
        return weights
    }

    /// σ(t) without overflow: exp is only taken of −|t|.
    static func sigmoid(_ t: Double) -> Double {
        let e = exp(-abs(t))
        return t >= 0 ? 1 / (1 + e) : e / (1 + e)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
