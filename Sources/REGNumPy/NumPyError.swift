/// Why a `.npy` file or array could not be read, written or converted, naming the file.
public struct NumPyError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// The file could not be opened, read or written.
        case io
        /// The first six bytes are not `\x93NUMPY`.
        case badMagic
        /// A format version other than 1.0, 2.0 or 3.0.
        case unsupportedVersion
        /// The header is not the Python dict literal NumPy writes, or a value has the wrong type.
        case badHeader
        /// The header lacks 'descr', 'fortran_order' or 'shape', or has another key.
        case missingKey
        /// A dtype other than the supported ones (see `NumPyDType`).
        case unsupportedDType
        /// The file ends before its header or its data does.
        case truncated
        /// Bytes after the data, or values that do not fill the shape.
        case shapeMismatch
        /// The shape's element or byte count does not fit in memory addresses.
        case overflow
        /// A value cannot be converted to the requested element type without loss.
        case conversion
    }

    public let kind: Kind
    /// The file's path; nil for data that did not come from a file.
    public let file: String?
    public let reason: String

    public init(_ kind: Kind, file: String?, _ reason: String) {
        self.kind = kind
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file ?? "npy data"): \(reason)" }
}
