/// The step's host scan of its inputs (`StepSettings.validatesElements`): the first element outside
/// a closed range, NaN included. Sixteen elements are tested at a time with one SIMD comparison,
/// and only a block that fails it is searched element by element; the vector test is exact or
/// stricter than the range (never looser), so the answer is `firstIndex(where:)`'s. Over 11 M
/// elements: ~1.5 ms against 4–6 ms for `firstIndex(where:)`, float32 or float16 — the scan runs on
/// every step, beside kernels that take a few milliseconds.
///
/// The vector types are concrete (`SIMD16<Float>`, `SIMD16<UInt16>`): generic `SIMD16<Element>`
/// code measured ~100× slower here, and `SIMD16<Float16>` comparisons ~50× slower.
extension UnsafeBufferPointer where Element == Float {
    func firstIndex(outside bounds: ClosedRange<Float>) -> Int? {
        let lows = SIMD16<Float>(repeating: bounds.lowerBound), highs = SIMD16<Float>(repeating: bounds.upperBound)
        return scanBlocks(self, outside: { !bounds.contains($0) }) { address in
            let v = address.loadUnaligned(as: SIMD16<Float>.self)
            return all((v .>= lows) .& (v .<= highs)) // NaN lanes fail both comparisons
        }
    }
}

extension UnsafeBufferPointer where Element == Float16 {
    /// Halves compared as integers: `orderedKey` maps the bit patterns to unsigned integers in the
    /// order of their values (−0 just below +0, NaNs beyond ±∞), and the range to the keys of the
    /// widest half-precision range inside it.
    func firstIndex(outside bounds: ClosedRange<Float>) -> Int? {
        var low = Float16(bounds.lowerBound), high = Float16(bounds.upperBound)
        if Float(low) < bounds.lowerBound { low = low.nextUp }
        if Float(high) > bounds.upperBound { high = high.nextDown }
        let lows = SIMD16<UInt16>(repeating: Self.orderedKey(low)), highs = SIMD16<UInt16>(repeating: Self.orderedKey(high))
        return scanBlocks(self, outside: { !bounds.contains(Float($0)) }) { address in
            let bits = address.loadUnaligned(as: SIMD16<UInt16>.self)
            let negative = SIMD16<UInt16>(repeating: 0) &- (bits &>> 15) // all ones where the sign is set
            let keys = bits ^ (negative | SIMD16<UInt16>(repeating: 0x8000))
            return all((keys .>= lows) .& (keys .<= highs))
        }
    }

    private static func orderedKey(_ x: Float16) -> UInt16 {
        x.sign == .minus ? ~x.bitPattern : x.bitPattern | 0x8000
    }
}

/// The loop of the scans: `blockInside` tests the 16 elements at an address.
@inline(__always)
private func scanBlocks<T>(_ view: UnsafeBufferPointer<T>, outside: (T) -> Bool,
                           blockInside: (UnsafeRawPointer) -> Bool) -> Int? {
    guard let base = view.baseAddress else { return nil }
    var i = 0
    while i + 16 <= view.count {
        if !blockInside(UnsafeRawPointer(base + i)), let j = view[i..<(i + 16)].firstIndex(where: outside) { return j }
        i += 16
    }
    return view[i...].firstIndex(where: outside)
}

extension FloatView {
    /// The index of the first element outside `bounds` (NaN included), by the vector scan.
    func firstIndex(outside bounds: ClosedRange<Float>) -> Int? {
        switch self {
        case .float32(let view): view.firstIndex(outside: bounds)
        case .float16(let view): view.firstIndex(outside: bounds)
        }
    }
}

extension ClosedRange where Bound == Float {
    /// The finite floats: outside it are ±∞ and NaN.
    static let finite = -Float.greatestFiniteMagnitude...Float.greatestFiniteMagnitude
}
