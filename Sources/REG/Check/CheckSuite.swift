/// Every operation's correctness check, in the order `reg check` runs them: random cases computed
/// on an OpenCL device and on the float64 CPU reference, compared under the SPEC's tolerances.
/// Each operation adds one entry.
public enum CheckSuite {
    public struct Entry: Sendable {
        /// Operation name as `reg check --only` takes it, e.g. "refinement".
        public let operation: String
        /// Runs `cases` random cases drawn from `seed` on `device` (an engine that does not fall
        /// back) and compares each with the reference.
        public let run: @Sendable (_ device: Engine, _ cases: Int, _ seed: UInt64) throws -> CheckOutcome

        public init(operation: String, run: @escaping @Sendable (_ device: Engine, _ cases: Int, _ seed: UInt64) throws -> CheckOutcome) {
            self.operation = operation
            self.run = run
        }
    }

    public static let entries: [Entry] = [
        Entry(operation: "refinement", run: RefinementCheck.run),
        Entry(operation: "focal-loss", run: FocalLossCheck.values),
        Entry(operation: "focal-loss-gradient", run: FocalLossCheck.gradients),
        Entry(operation: "distance-transform", run: DistanceTransformCheck.run),
        Entry(operation: "box-distance", run: BoxDistanceCheck.run),
    ]
}

/// What one operation's check found.
public struct CheckOutcome: Codable, Sendable {
    public let cases: Int
    /// Largest |device − reference| over every compared value.
    public let maxAbsoluteError: Double
    /// Largest |device − reference| / |reference| over the values the tolerance judges relatively.
    public let maxRelativeError: Double
    /// The tolerance in words, e.g. "abs ≤ 1e-6, rel ≤ 1e-5 where g ≥ 1e-30".
    public let tolerance: String
    public let passed: Bool
    /// The first value (or error) outside the tolerance, with the case that produced it.
    public let failure: String?

    public init(cases: Int, maxAbsoluteError: Double, maxRelativeError: Double, tolerance: String,
                passed: Bool, failure: String? = nil) {
        self.cases = cases
        self.maxAbsoluteError = maxAbsoluteError
        self.maxRelativeError = maxRelativeError
        self.tolerance = tolerance
        self.passed = passed
        self.failure = failure
    }

    public init(cases: Int, _ statistics: ErrorStatistics) {
        self.init(cases: cases, maxAbsoluteError: statistics.maxAbsoluteError,
                  maxRelativeError: statistics.maxRelativeError, tolerance: statistics.tolerance.description,
                  passed: statistics.failure == nil, failure: statistics.failure)
    }
}
