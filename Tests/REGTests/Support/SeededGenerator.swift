import REG

/// The tests' generator: REG's SplitMix64, so every random test input is fixed by its seed.
typealias SeededGenerator = SplitMix64

extension SplitMix64 {
    mutating func floats(_ count: Int, in range: ClosedRange<Float>) -> [Float] {
        (0..<count).map { _ in Float.random(in: range, using: &self) }
    }
}
