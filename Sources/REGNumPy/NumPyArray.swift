/// An n-dimensional array as a `.npy` file holds it: a shape and C-order (row-major) values of
/// one of the supported dtypes.
///
/// Arrays read from files remember the file (`source`) so that conversion errors can name it.
public struct NumPyArray: Equatable, Sendable {
    /// The values in C order, in their dtype.
    public enum Storage: Equatable, Sendable {
        case float16([Float16])
        case float32([Float])
        case float64([Double])
        case uint8([UInt8])
        case bool([Bool])
        case int32([Int32])
        case int64([Int64])

        public var dtype: NumPyDType {
            switch self {
            case .float16: .float16
            case .float32: .float32
            case .float64: .float64
            case .uint8: .uint8
            case .bool: .bool
            case .int32: .int32
            case .int64: .int64
            }
        }

        public var count: Int {
            switch self {
            case .float16(let v): v.count
            case .float32(let v): v.count
            case .float64(let v): v.count
            case .uint8(let v): v.count
            case .bool(let v): v.count
            case .int32(let v): v.count
            case .int64(let v): v.count
            }
        }
    }

    /// Sizes of the axes; `[]` for a scalar (one element).
    public let shape: [Int]
    public let storage: Storage
    /// The file this array was read from, for error messages; not part of equality.
    public var source: String?

    public var dtype: NumPyDType { storage.dtype }
    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    /// Throws when a dimension is negative or the values do not fill the shape exactly.
    public init(shape: [Int], storage: Storage, source: String? = nil) throws(NumPyError) {
        let elements = try Self.elementCount(shape, itemSize: storage.dtype.itemSize, file: source)
        guard elements == storage.count else {
            throw NumPyError(.shapeMismatch, file: source,
                             "shape \(NumPyHeader.tuple(shape)) holds \(elements) elements but \(storage.count) values were given")
        }
        self.shape = shape
        self.storage = storage
        self.source = source
    }

    public init(shape: [Int], float16 values: [Float16]) throws(NumPyError) { try self.init(shape: shape, storage: .float16(values)) }
    public init(shape: [Int], float32 values: [Float]) throws(NumPyError) { try self.init(shape: shape, storage: .float32(values)) }
    public init(shape: [Int], float64 values: [Double]) throws(NumPyError) { try self.init(shape: shape, storage: .float64(values)) }
    public init(shape: [Int], uint8 values: [UInt8]) throws(NumPyError) { try self.init(shape: shape, storage: .uint8(values)) }
    public init(shape: [Int], bool values: [Bool]) throws(NumPyError) { try self.init(shape: shape, storage: .bool(values)) }
    public init(shape: [Int], int32 values: [Int32]) throws(NumPyError) { try self.init(shape: shape, storage: .int32(values)) }
    public init(shape: [Int], int64 values: [Int64]) throws(NumPyError) { try self.init(shape: shape, storage: .int64(values)) }

    public static func == (a: NumPyArray, b: NumPyArray) -> Bool {
        a.shape == b.shape && a.storage == b.storage
    }

    /// The number of elements of `shape`, checking that it and its byte count fit in an `Int`.
    static func elementCount(_ shape: [Int], itemSize: Int, file: String?) throws(NumPyError) -> Int {
        var count = 1
        for (axis, size) in shape.enumerated() {
            guard size >= 0 else { throw NumPyError(.shapeMismatch, file: file, "shape axis \(axis) is negative (\(size))") }
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else {
                throw NumPyError(.overflow, file: file, "shape \(NumPyHeader.tuple(shape)) has more elements than fit in memory")
            }
            count = product
        }
        guard !count.multipliedReportingOverflow(by: itemSize).overflow else {
            throw NumPyError(.overflow, file: file, "shape \(NumPyHeader.tuple(shape)) has more bytes than fit in memory")
        }
        return count
    }

    /// The multi-index of flat C-order position `flat`, for error messages.
    public func index(ofFlat flat: Int) -> [Int] {
        var remainder = flat
        var index = [Int](repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() where shape[axis] > 0 {
            index[axis] = remainder % shape[axis]
            remainder /= shape[axis]
        }
        return index
    }
}
