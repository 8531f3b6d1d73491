/// The header of a `.npy` file: dtype, memory order and shape, as the dict literal NumPy writes.
struct NumPyHeader: Equatable {
    var dtype: NumPyDType
    var bigEndian: Bool
    var fortranOrder: Bool
    var shape: [Int]

    /// Interprets the header text; `file` names the source in errors.
    init(parsing text: String, file: String?) throws(NumPyError) {
        let literal: PythonLiteral
        do {
            literal = try PythonLiteral.parse(text)
        } catch {
            throw NumPyError(.badHeader, file: file, "header does not parse: \(error)")
        }
        guard case .dictionary(let entries) = literal else {
            throw NumPyError(.badHeader, file: file, "header is not a dict")
        }
        var values: [String: PythonLiteral] = [:]
        for (key, value) in entries {
            guard ["descr", "fortran_order", "shape"].contains(key) else {
                throw NumPyError(.missingKey, file: file, "header has an unexpected key '\(key)'")
            }
            values[key] = value
        }
        func value(_ key: String) throws(NumPyError) -> PythonLiteral {
            guard let value = values[key] else { throw NumPyError(.missingKey, file: file, "header has no '\(key)'") }
            return value
        }

        switch try value("descr") {
        case .string(let descr):
            guard let parsed = NumPyDType.parse(descr: descr) else {
                throw NumPyError(.unsupportedDType, file: file,
                                 "dtype '\(descr)' is not supported; supported: \(NumPyDType.supportedList)")
            }
            dtype = parsed.dtype
            bigEndian = parsed.bigEndian
        case .list:
            throw NumPyError(.unsupportedDType, file: file, "structured dtypes are not supported")
        default:
            throw NumPyError(.badHeader, file: file, "'descr' is not a string")
        }

        guard case .boolean(let fortranOrder) = try value("fortran_order") else {
            throw NumPyError(.badHeader, file: file, "'fortran_order' is not True or False")
        }
        self.fortranOrder = fortranOrder

        guard case .tuple(let dimensions) = try value("shape") else {
            throw NumPyError(.badHeader, file: file, "'shape' is not a tuple")
        }
        var shape: [Int] = []
        for (axis, dimension) in dimensions.enumerated() {
            guard case .integer(let size) = dimension, size >= 0 else {
                throw NumPyError(.badHeader, file: file, "'shape' axis \(axis) is not a non-negative integer")
            }
            shape.append(size)
        }
        self.shape = shape
    }

    init(dtype: NumPyDType, shape: [Int]) {
        self.dtype = dtype
        bigEndian = false
        fortranOrder = false
        self.shape = shape
    }

    /// The dict exactly as NumPy's `format.write_array` writes it (keys sorted, trailing ", "),
    /// followed by the spaces NumPy leaves so the first axis can grow in place, so that REG's files
    /// are byte for byte NumPy's.
    var text: String {
        let order = fortranOrder ? "True" : "False"
        let descr = bigEndian ? ">" + dtype.rawValue.dropFirst() : dtype.rawValue
        var text = "{'descr': '\(descr)', 'fortran_order': \(order), 'shape': \(Self.tuple(shape)), }"
        if let growing = fortranOrder ? shape.last : shape.first {
            text += String(repeating: " ", count: max(0, 21 - String(growing).count))
        }
        return text
    }

    /// Python's repr of a tuple of ints: `()`, `(5,)`, `(3, 4)`.
    static func tuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}
