/// Conversions of an array's values to the element type an operation takes.
///
/// A conversion succeeds only when every value is represented exactly, with one exception:
/// float64 → float32 rounds to nearest (REG computes in float32), but a finite value beyond the
/// float32 range is an error. Integers come from integer dtypes, bools (0/1), or floats holding
/// whole numbers; bools come from bools or from numbers that are exactly 0 or 1. An error names
/// the file, the element's index and value.
extension NumPyArray {
    public func floats() throws(NumPyError) -> [Float] {
        if case .float32(let values) = storage { return values }
        return try convert("float32") { value in
            switch value {
            case .real(let x):
                let f = Float(x)
                return f.isInfinite && x.isFinite ? nil : f
            case .integer(let n):
                let f = Float(n)
                return Int64(exactly: f) == n ? f : nil
            }
        }
    }

    public func doubles() throws(NumPyError) -> [Double] {
        if case .float64(let values) = storage { return values }
        return try convert("float64") { value in
            switch value {
            case .real(let x): return x
            case .integer(let n): return Double(exactly: n)
            }
        }
    }

    public func uint8s() throws(NumPyError) -> [UInt8] {
        if case .uint8(let values) = storage { return values }
        return try convert("uint8") { $0.integer.flatMap { UInt8(exactly: $0) } }
    }

    public func int32s() throws(NumPyError) -> [Int32] {
        if case .int32(let values) = storage { return values }
        return try convert("int32") { $0.integer.flatMap { Int32(exactly: $0) } }
    }

    public func int64s() throws(NumPyError) -> [Int64] {
        if case .int64(let values) = storage { return values }
        return try convert("int64") { $0.integer }
    }

    public func bools() throws(NumPyError) -> [Bool] {
        if case .bool(let values) = storage { return values }
        return try convert("bool") { value in
            switch value.integer {
            case 0: false
            case 1: true
            default: nil
            }
        }
    }

    /// One element as the widest exact value its dtype has.
    enum Scalar: CustomStringConvertible {
        case integer(Int64)
        case real(Double)

        /// The whole number this value holds exactly, if any.
        var integer: Int64? {
            switch self {
            case .integer(let n): n
            case .real(let x): x.rounded() == x ? Int64(exactly: x) : nil
            }
        }

        var description: String {
            switch self {
            case .integer(let n): "\(n)"
            case .real(let x): "\(x)"
            }
        }
    }

    /// Maps every element through `transform`; nil from it is an error naming the element.
    private func convert<T>(_ target: String, _ transform: (Scalar) -> T?) throws(NumPyError) -> [T] {
        var result: [T] = []
        result.reserveCapacity(count)
        var failure: (index: Int, value: Scalar)?
        func append(_ value: Scalar, at i: Int) -> Bool {
            guard let converted = transform(value) else {
                failure = (i, value)
                return false
            }
            result.append(converted)
            return true
        }
        switch storage {
        case .float16(let v): for i in v.indices { guard append(.real(Double(v[i])), at: i) else { break } }
        case .float32(let v): for i in v.indices { guard append(.real(Double(v[i])), at: i) else { break } }
        case .float64(let v): for i in v.indices { guard append(.real(v[i]), at: i) else { break } }
        case .uint8(let v): for i in v.indices { guard append(.integer(Int64(v[i])), at: i) else { break } }
        case .bool(let v): for i in v.indices { guard append(.integer(v[i] ? 1 : 0), at: i) else { break } }
        case .int32(let v): for i in v.indices { guard append(.integer(Int64(v[i])), at: i) else { break } }
        case .int64(let v): for i in v.indices { guard append(.integer(v[i]), at: i) else { break } }
        }
        if let failure {
            let place = index(ofFlat: failure.index).map(String.init).joined(separator: ", ")
            throw NumPyError(.conversion, file: source,
                             "element [\(place)] = \(failure.value) of this \(dtype.name) array cannot be read as \(target) without loss")
        }
        return result
    }
}
