import REGRuntime

/// A view of floating-point elements in the caller's memory that REG reads: IEEE float32 or
/// IEEE float16 (half the bytes; REG computes in float32 either way, widening each half exactly).
///
/// The step reads it in place: on a device, float16 is uploaded as float16 and read by the kernels
/// with `vload_half`; the CPU reference widens every element exactly (`Float(Float16)`).
public enum FloatView {
    case float32(UnsafeBufferPointer<Float>)
    case float16(UnsafeBufferPointer<Float16>)

    /// Elements (not bytes).
    public var count: Int {
        switch self {
        case .float32(let view): view.count
        case .float16(let view): view.count
        }
    }

    public var precision: FloatPrecision {
        switch self {
        case .float32: .float32
        case .float16: .float16
        }
    }

    /// Element `i`, widened exactly to float32.
    public subscript(i: Int) -> Float {
        switch self {
        case .float32(let view): view[i]
        case .float16(let view): Float(view[i])
        }
    }

    /// Every element widened exactly to float32 (a copy).
    public func floats() -> [Float] {
        switch self {
        case .float32(let view): Array(view)
        case .float16(let view): HalfPrecision.widen(view)
        }
    }

    /// The elements `range`, as a view of the same memory.
    func slice(_ range: Range<Int>) -> FloatView {
        switch self {
        case .float32(let view): .float32(UnsafeBufferPointer(rebasing: view[range]))
        case .float16(let view): .float16(UnsafeBufferPointer(rebasing: view[range]))
        }
    }
}

/// A view of floating-point elements in the caller's memory that REG writes: IEEE float32, or
/// IEEE float16, written rounded to nearest even (a device writes them so itself, with
/// `vstore_half_rte`, and they are read straight into this memory).
public enum MutableFloatView {
    case float32(UnsafeMutableBufferPointer<Float>)
    case float16(UnsafeMutableBufferPointer<Float16>)

    /// Elements (not bytes).
    public var count: Int {
        switch self {
        case .float32(let view): view.count
        case .float16(let view): view.count
        }
    }

    public var precision: FloatPrecision {
        switch self {
        case .float32: .float32
        case .float16: .float16
        }
    }

    /// Element `i`, widened exactly to float32 (for reading back what REG wrote).
    public subscript(i: Int) -> Float {
        switch self {
        case .float32(let view): view[i]
        case .float16(let view): Float(view[i])
        }
    }

    /// Writes `values` (one per element) rounded to float32, then, for a float16 view, to half (both
    /// to nearest even): what a device writes for the same float32 results.
    func store(_ values: [Double]) {
        precondition(values.count == count)
        switch self {
        case .float32(let view): for i in values.indices { view[i] = Float(values[i]) }
        case .float16(let view): for i in values.indices { view[i] = Float16(Float(values[i])) }
        }
    }

    /// The elements `range`, as a view of the same memory.
    func slice(_ range: Range<Int>) -> MutableFloatView {
        switch self {
        case .float32(let view): .float32(UnsafeMutableBufferPointer(rebasing: view[range]))
        case .float16(let view): .float16(UnsafeMutableBufferPointer(rebasing: view[range]))
        }
    }
}
