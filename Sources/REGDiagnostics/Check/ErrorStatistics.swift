import Foundation

/// An elementwise tolerance: a value passes when its absolute error is within `absolute` and, where
/// |reference| ≥ `relativeFloor`, its relative error is within `relative`.
///
/// The floor keeps relative error meaningful: below it (values that float32 flushes or
/// rounds to a few bits) only the absolute bound applies.
public struct ElementTolerance: Sendable, CustomStringConvertible {
    public var absolute: Double
    public var relative: Double
    public var relativeFloor: Double
    /// What the values are called in the description, e.g. "g" or "|∂L/∂z|".
    public var quantity: String
    /// In words, the scale that `ErrorStatistics.add(…, scale:)` multiplies `absolute` by, for a
    /// bound such as the gradient rule of docs/math.md §7 "abs ≤ 1e-5 · max(1, max|g_ref|)"; nil for none.
    public var absoluteScale: String?

    public init(absolute: Double = .infinity, relative: Double = .infinity, relativeFloor: Double = 0,
                quantity: String = "|reference|", absoluteScale: String? = nil) {
        self.absolute = absolute
        self.relative = relative
        self.relativeFloor = relativeFloor
        self.quantity = quantity
        self.absoluteScale = absoluteScale
    }

    public var description: String {
        var parts: [String] = []
        if absolute.isFinite { parts.append("abs ≤ \(Self.short(absolute))" + (absoluteScale.map { "·\($0)" } ?? "")) }
        if relative.isFinite {
            parts.append("rel ≤ \(Self.short(relative))" + (relativeFloor > 0 ? " where \(quantity) ≥ \(Self.short(relativeFloor))" : ""))
        }
        return parts.isEmpty ? "any" : parts.joined(separator: ", ")
    }

    static func short(_ x: Double) -> String { String(format: "%g", x) }
}

/// Compares device values with reference values one by one and keeps the worst errors and the
/// first value outside the tolerance.
public struct ErrorStatistics: Sendable {
    public let tolerance: ElementTolerance
    public private(set) var maxAbsoluteError = 0.0
    public private(set) var maxRelativeError = 0.0
    public private(set) var compared = 0
    /// The first rejection, described.
    public private(set) var failure: String?

    public init(tolerance: ElementTolerance) {
        self.tolerance = tolerance
    }

    /// Adds one value. Equal infinities are exact; NaN on either side alone is an infinite error.
    /// The absolute bound is `tolerance.absolute × scale`. `context` describes the value for the
    /// failure report; it is only evaluated on failure.
    public mutating func add(device: Float, reference: Double, scale: Double = 1, _ context: @autoclosure () -> String) {
        compared += 1
        let d = Double(device)
        var absolute: Double
        if d == reference || (d.isNaN && reference.isNaN) {
            absolute = 0
        } else {
            absolute = abs(d - reference)
            if absolute.isNaN { absolute = .infinity }
        }
        maxAbsoluteError = max(maxAbsoluteError, absolute)
        // Relative error is judged where the reference is finite, non-zero and above the floor.
        var withinRelative = true
        if abs(reference) >= tolerance.relativeFloor && reference != 0 && reference.isFinite {
            let relative = absolute / abs(reference)
            maxRelativeError = max(maxRelativeError, relative)
            withinRelative = relative <= tolerance.relative
        }
        if failure == nil && !(absolute <= tolerance.absolute * scale && withinRelative) {
            failure = "\(context()): device \(device), reference \(reference)"
        }
    }

    /// Records a failure that is not a value, e.g. the device and the reference disagreeing on an error.
    public mutating func reject(_ description: String) {
        if failure == nil { failure = description }
    }
}
