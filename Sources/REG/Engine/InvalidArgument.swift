/// Bad input: names the argument, the offending index when there is one, and what is wrong.
/// Thrown by both the OpenCL routines and the CPU reference, never turned into a fallback.
public struct InvalidArgument: Error, CustomStringConvertible, Equatable, Sendable {
    public let argument: String
    /// Position of the offending element (one entry per dimension), if the problem is an element.
    public let index: [Int]?
    public let reason: String

    public init(_ argument: String, index: [Int]? = nil, _ reason: String) {
        self.argument = argument
        self.index = index
        self.reason = reason
    }

    public var description: String {
        let place = index.map { "\(argument)[\($0.map(String.init).joined(separator: ", "))]" } ?? argument
        return "invalid argument \(place): \(reason)"
    }

    /// Throws unless `value` is finite.
    static func requireFinite(_ value: Float, _ argument: String) throws(InvalidArgument) {
        guard value.isFinite else { throw InvalidArgument(argument, "must be finite, got \(value)") }
    }
}
