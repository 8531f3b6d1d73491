/// `reg check`'s case generator: SplitMix64 with helpers for awkward sizes and magnitudes.
typealias CaseGenerator = SplitMix64

extension SplitMix64 {
    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    /// A size that is often awkward for a launch: 1, around powers of two, or anything up to `limit`.
    mutating func awkwardSize(upTo limit: Int) -> Int {
        let near = [1, 2, 3, 63, 64, 65, 255, 256, 257, 1023, 1024, 1025, 4097].filter { $0 <= limit }
        return chance(0.5) ? near.randomElement(using: &self)! : Int.random(in: 1...limit, using: &self)
    }

    /// |x| log-uniform in [low, high], random sign.
    mutating func signedLogUniform(_ low: Double, _ high: Double) -> Double {
        let magnitude = exp(Double.random(in: log(low)...log(high), using: &self))
        return chance(0.5) ? magnitude : -magnitude
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
