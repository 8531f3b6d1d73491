/// A JSON value whose object keys are written in the order given, pretty-printed with two-space
/// indents (JSONEncoder on Linux writes keys in hash order, or sorted).
enum OrderedJSON {
    case object([(String, OrderedJSON)])
    case array([OrderedJSON])
    case string(String)
    case integer(Int)
    /// A finite number; NaN and the infinities are written as the strings "NaN", "Infinity",
    /// "-Infinity" (JSON has no literal for them).
    case number(Double)
    case bool(Bool)
    case null

    var text: String {
        var out = ""
        write(to: &out, indent: "")
        return out
    }

    private func write(to out: inout String, indent: String) {
        switch self {
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            let inner = indent + "  "
            out += "{\n"
            for (i, (key, value)) in members.enumerated() {
                out += inner
                Self.quote(key, to: &out)
                out += ": "
                value.write(to: &out, indent: inner)
                out += i + 1 < members.count ? ",\n" : "\n"
            }
            out += indent + "}"
        case .array(let elements):
            guard !elements.isEmpty else { out += "[]"; return }
            let inner = indent + "  "
            out += "[\n"
            for (i, value) in elements.enumerated() {
                out += inner
                value.write(to: &out, indent: inner)
                out += i + 1 < elements.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case .string(let text): Self.quote(text, to: &out)
        case .integer(let value): out += String(value)
        case .number(let value):
            if value.isFinite {
                out += "\(value)" // the shortest text that reads back as the same Double
            } else {
                Self.quote(value.isNaN ? "NaN" : (value > 0 ? "Infinity" : "-Infinity"), to: &out)
            }
        case .bool(let value): out += value ? "true" : "false"
        case .null: out += "null"
        }
    }

    private static func quote(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
