/// The subset of Python literals a `.npy` header uses: a dict of strings, booleans, integers and
/// tuples (`{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`). Lists, `None` and
/// nested dicts are parsed too, so that a structured dtype gets a precise error rather than a
/// syntax error.
indirect enum PythonLiteral: Equatable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dictionary([(key: String, value: PythonLiteral)])

    static func == (a: PythonLiteral, b: PythonLiteral) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): x == y
        case (.integer(let x), .integer(let y)): x == y
        case (.boolean(let x), .boolean(let y)): x == y
        case (.none, .none): true
        case (.tuple(let x), .tuple(let y)), (.list(let x), .list(let y)): x == y
        case (.dictionary(let x), .dictionary(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// Parses one literal that fills `text` (surrounding whitespace allowed).
    /// The error message says what was expected and at which character.
    static func parse(_ text: String) throws(SyntaxError) -> PythonLiteral {
        var parser = Parser(scalars: Array(text.unicodeScalars))
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.atEnd else { throw parser.error("unexpected text after the literal") }
        return value
    }

    struct SyntaxError: Error, CustomStringConvertible {
        let message: String
        let offset: Int
        var description: String { "\(message) at character \(offset)" }
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var position = 0
        /// Deep enough for any header, shallow enough that recursion cannot exhaust the stack.
        static let maximumDepth = 32

        var atEnd: Bool { position >= scalars.count }
        var current: Unicode.Scalar? { atEnd ? nil : scalars[position] }

        func error(_ message: String) -> SyntaxError { SyntaxError(message: message, offset: position) }

        mutating func skipWhitespace() {
            while let c = current, c == " " || c == "\n" || c == "\t" || c == "\r" { position += 1 }
        }

        mutating func value(depth: Int) throws(SyntaxError) -> PythonLiteral {
            guard depth < Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth)") }
            skipWhitespace()
            guard let c = current else { throw error("expected a value, found the end") }
            switch c {
            case "'", "\"": return .string(try string())
            case "(": return try sequence(close: ")", depth: depth)
            case "[": return try sequence(close: "]", depth: depth)
            case "{": return try dictionary(depth: depth)
            case "-", "+", "0"..."9": return .integer(try integer())
            default:
                let word = identifier()
                switch word {
                case "True": return .boolean(true)
                case "False": return .boolean(false)
                case "None": return .none
                case "": throw error("unexpected character '\(c.escaped(asASCII: true))'")
                default: throw error("unknown name '\(word)'")
                }
            }
        }

        mutating func identifier() -> String {
            var word = ""
            while let c = current, c.properties.isAlphabetic || c == "_" {
                word.unicodeScalars.append(c)
                position += 1
            }
            return word
        }

        mutating func integer() throws(SyntaxError) -> Int {
            let start = position
            if current == "-" || current == "+" { position += 1 }
            var digits = ""
            while let c = current, ("0"..."9").contains(c) {
                digits.unicodeScalars.append(c)
                position += 1
            }
            guard !digits.isEmpty else { throw error("expected digits") }
            if current == "L" || current == "l" { position += 1 } // Python 2 long, in old files
            guard let magnitude = Int(digits) else {
                throw SyntaxError(message: "integer \(digits) is too large", offset: start)
            }
            return scalars[start] == "-" ? -magnitude : magnitude
        }

        mutating func string() throws(SyntaxError) -> String {
            let quote = scalars[position]
            position += 1
            var result = ""
            while let c = current {
                position += 1
                if c == quote { return result }
                if c == "\\" {
                    guard let escaped = current else { break }
                    position += 1
                    switch escaped {
                    case "n": result.unicodeScalars.append("\n")
                    case "t": result.unicodeScalars.append("\t")
                    case "r": result.unicodeScalars.append("\r")
                    case "0": result.unicodeScalars.append("\0")
                    default: result.unicodeScalars.append(escaped)
                    }
                } else {
                    result.unicodeScalars.append(c)
                }
            }
            throw error("unterminated string")
        }

        /// A tuple or list. `(x)` without a comma is a parenthesised value, as in Python.
        mutating func sequence(close: Unicode.Scalar, depth: Int) throws(SyntaxError) -> PythonLiteral {
            position += 1
            var items: [PythonLiteral] = []
            var sawComma = false
            while true {
                skipWhitespace()
                if current == close { position += 1; break }
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                if current == "," {
                    sawComma = true
                    position += 1
                } else if current == close {
                    position += 1
                    break
                } else {
                    throw error("expected ',' or '\(close)'")
                }
            }
            if close == "]" { return .list(items) }
            if items.count == 1 && !sawComma { return items[0] }
            return .tuple(items)
        }

        mutating func dictionary(depth: Int) throws(SyntaxError) -> PythonLiteral {
            position += 1
            var entries: [(key: String, value: PythonLiteral)] = []
            while true {
                skipWhitespace()
                if current == "}" { position += 1; break }
                guard current == "'" || current == "\"" else { throw error("expected a string key") }
                let key = try string()
                skipWhitespace()
                guard current == ":" else { throw error("expected ':' after key '\(key)'") }
                position += 1
                entries.append((key, try value(depth: depth + 1)))
                skipWhitespace()
                if current == "," {
                    position += 1
                } else if current == "}" {
                    position += 1
                    break
                } else {
                    throw error("expected ',' or '}'")
                }
            }
            return .dictionary(entries)
        }
    }
}
