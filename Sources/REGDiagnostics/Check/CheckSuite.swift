import REG

/// Every operation's correctness check, in the order `reg check` runs them: random cases computed
/// on an OpenCL device and on the float64 CPU reference, compared under the tolerances of
/// docs/math.md. Each operation adds its descriptor here.
public enum CheckSuite {
    public struct Entry: Sendable {
        /// Operation name as `reg check --only` takes it, e.g. "focal-loss".
        public let operation: String
        /// The rows it prints, one per judge, e.g. "focal-loss" and "focal-loss-gradient".
        public let rows: [String]
        /// Runs `cases` random cases drawn from `seed` on `device` (an engine that does not fall
        /// back) and compares each with the reference: one outcome per row.
        public let run: @Sendable (_ device: Engine, _ cases: Int, _ seed: UInt64) throws -> [CheckOutcome]

        init<D: OperationDescriptor>(_ descriptor: D.Type) {
            operation = D.name
            rows = D.judges.map(\.row)
            run = { try D.check(device: $0, cases: $1, seed: $2) }
        }
    }

    public static let entries: [Entry] = [
        Entry(RefinementDescriptor.self),
        Entry(FocalLossDescriptor.self),
        Entry(DistanceTransformDescriptor.self),
        Entry(BoxDistanceDescriptor.self),
        Entry(StepDescriptor.self),
    ]
}

/// What one operation's check found.
public struct CheckOutcome: Codable, Sendable {
    /// The row's name, e.g. "focal-loss-gradient".
    public let row: String
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

    public init(row: String, cases: Int, maxAbsoluteError: Double, maxRelativeError: Double, tolerance: String,
                passed: Bool, failure: String? = nil) {
        self.row = row
        self.cases = cases
        self.maxAbsoluteError = maxAbsoluteError
        self.maxRelativeError = maxRelativeError
        self.tolerance = tolerance
        self.passed = passed
        self.failure = failure
    }

    public init(row: String, cases: Int, _ statistics: ErrorStatistics) {
        self.init(row: row, cases: cases, maxAbsoluteError: statistics.maxAbsoluteError,
                  maxRelativeError: statistics.maxRelativeError, tolerance: statistics.tolerance.description,
                  passed: statistics.failure == nil, failure: statistics.failure)
    }
}
