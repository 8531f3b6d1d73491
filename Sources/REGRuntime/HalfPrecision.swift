/// IEEE float16 → float32, exactly, in a loop the compiler vectorises: Swift's `Float(Float16)`
/// goes through a library call per element on x86-64 (about 7 ns; this runs at about 2 ns
/// including the page faults of a fresh array).
public enum HalfPrecision {
    /// `halves` widened to float32 (every float16, NaN payloads and subnormals included, is exact).
    public static func widen(_ halves: UnsafeBufferPointer<Float16>) -> [Float] {
        [Float](unsafeUninitializedCapacity: halves.count) { output, count in
            halves.withMemoryRebound(to: UInt16.self) { bits in
                for i in 0..<bits.count { output[i] = widen(bits: bits[i]) }
            }
            count = halves.count
        }
    }

    public static func widen(_ halves: [Float16]) -> [Float] {
        halves.withUnsafeBufferPointer { widen($0) }
    }

    /// One half's bits as a float: the exponent rebiased (15 → 127), subnormals renormalised by
    /// a float subtraction, infinities and NaNs given the float's all-ones exponent.
    @inline(__always)
    static func widen(bits: UInt16) -> Float {
        let b = UInt32(bits)
        let magnitude = (b & 0x7fff) << 13 // exponent and mantissa in a float's places
        let exponent = magnitude & (0x7c00 << 13)
        let value: Float
        if exponent == 0x7c00 << 13 {
            value = Float(bitPattern: magnitude &+ ((255 - 31) << 23))
        } else if exponent == 0 {
            value = Float(bitPattern: magnitude &+ (113 << 23)) - Float(bitPattern: 113 << 23)
        } else {
            value = Float(bitPattern: magnitude &+ ((127 - 15) << 23))
        }
        return Float(bitPattern: value.bitPattern | ((b & 0x8000) << 16))
    }
}
