#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64: the one deterministic generator of REG's random cases (`reg check`), benchmark
/// inputs (tools/bench_distance_baselines.py mirrors it) and tests, so that a seed names the same
/// values on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    /// A size that is often awkward for a launch: 1, around powers of two, or anything up to `limit`.
    public mutating func awkwardSize(upTo limit: Int) -> Int {
        let near = [1, 2, 3, 63, 64, 65, 255, 256, 257, 1023, 1024, 1025, 4097].filter { $0 <= limit }
        return chance(0.5) ? near.randomElement(using: &self)! : Int.random(in: 1...limit, using: &self)
    }

    /// |x| log-uniform in [low, high], random sign.
    public mutating func signedLogUniform(_ low: Double, _ high: Double) -> Double {
        let magnitude = exp(Double.random(in: log(low)...log(high), using: &self))
        return chance(0.5) ? magnitude : -magnitude
    }

    /// `count` floats uniform in `range`.
    public mutating func floats(_ count: Int, in range: ClosedRange<Float>) -> [Float] {
        (0..<count).map { _ in Float.random(in: range, using: &self) }
    }
}
