import Foundation
import ArgumentParser
import REG

// Parsing and checking of option values. Every error is a `ValidationError` (exit 64) that names
// the option and echoes the value as the user wrote it, so `--gamma -1` says
// "--gamma: must be ≥ 0, got -1".

/// Parses "a,b,c" into numbers, naming the option on a bad entry.
func parseList<T: LosslessStringConvertible>(_ text: String, option: String) throws -> [T] {
    try text.split(separator: ",", omittingEmptySubsequences: false).enumerated().map { index, part in
        let trimmed = part.trimmingCharacters(in: .whitespaces)
        guard let value = T(trimmed) else {
            let kind = T.self is any BinaryInteger.Type ? "a whole number" : "a number"
            throw ValidationError("\(option): entry \(index) '\(trimmed)' is not \(kind)")
        }
        return value
    }
}

/// Parses annotation counts "n1,n2,…": whole numbers. Zero and negative counts parse, so that
/// `ClassWeights` can name the class (`--counts[1]: class 1 has 0 annotations; …`).
func parseCounts(_ text: String, option: String) throws -> [Int] {
    try text.split(separator: ",", omittingEmptySubsequences: false).enumerated().map { index, part in
        let trimmed = part.trimmingCharacters(in: .whitespaces)
        guard let value = Int(trimmed) else {
            throw ValidationError("\(option): entry \(index) '\(trimmed)' must be a positive whole number")
        }
        return value
    }
}

/// A number as a user would write it: "-1", "0.25", "inf" (not "-1.0").
func shown(_ value: Float) -> String {
    if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
}

/// Throws unless `value` is finite.
func requireFinite(_ value: Float, _ option: String) throws {
    guard value.isFinite else { throw ValidationError("\(option): must be finite, got \(shown(value))") }
}

/// Throws unless `value` is finite and ≥ 0.
func requireNonNegative(_ value: Float, _ option: String) throws {
    try requireFinite(value, option)
    guard value >= 0 else { throw ValidationError("\(option): must be ≥ 0, got \(shown(value))") }
}

/// Throws unless `value` ≥ `minimum`.
func requireAtLeast(_ value: Int, _ minimum: Int, _ option: String) throws {
    guard value >= minimum else { throw ValidationError("\(option): must be ≥ \(minimum), got \(value)") }
}

/// `samples`, `positives`, or a number M > 0 (checked by the operation, which names the option).
extension FocalLoss.Normalizer: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument.lowercased() {
        case "samples": self = .samples
        case "positives": self = .positives
        default:
            guard let m = Double(argument) else { return nil }
            self = .given(m)
        }
    }
}
