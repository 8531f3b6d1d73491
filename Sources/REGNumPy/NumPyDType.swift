/// The element types REG reads and writes, by the `descr` NumPy writes for them (little-endian).
///
/// Reading also accepts big-endian `>f2 >f4 >f8 >i4 >i8` (converted) and any byte-order mark on the
/// one-byte types (`<u1`, `=b1`, …). Other dtypes (`|i1`, `<i2`, `<u4`, strings, structured) are
/// refused by name: labels and logits never need them, and a silent widening would hide a mistake
/// in the caller's data. `<f2` (IEEE float16) holds logits, targets and σ maps of mixed-precision
/// training; it widens to float32 exactly.
public enum NumPyDType: String, Sendable, CaseIterable, Codable {
    case float16 = "<f2"
    case float32 = "<f4"
    case float64 = "<f8"
    case uint8 = "|u1"
    case bool = "|b1"
    case int32 = "<i4"
    case int64 = "<i8"

    /// Bytes per element.
    public var itemSize: Int {
        switch self {
        case .float16: 2
        case .float32, .int32: 4
        case .float64, .int64: 8
        case .uint8, .bool: 1
        }
    }

    /// The NumPy name, e.g. "float32".
    public var name: String {
        switch self {
        case .float16: "float16"
        case .float32: "float32"
        case .float64: "float64"
        case .uint8: "uint8"
        case .bool: "bool"
        case .int32: "int32"
        case .int64: "int64"
        }
    }

    /// The dtype a `descr` names and whether its bytes are big-endian; nil when unsupported.
    static func parse(descr: String) -> (dtype: NumPyDType, bigEndian: Bool)? {
        let characters = Array(descr)
        guard characters.count == 3, "<>|=".contains(characters[0]) else { return nil }
        let order = characters[0]
        let code = String(characters[1...])
        guard let dtype = allCases.first(where: { $0.rawValue.dropFirst() == code }) else { return nil }
        if dtype.itemSize == 1 { return (dtype, false) }
        // '|' means "not applicable" and '=' the writer's native order, unknown here: NumPy itself
        // writes '<' or '>' for multi-byte types.
        switch order {
        case "<": return (dtype, false)
        case ">": return (dtype, true)
        default: return nil
        }
    }

    static var supportedList: String {
        allCases.map(\.rawValue).joined(separator: " ") + " (and >f2 >f4 >f8 >i4 >i8)"
    }
}
