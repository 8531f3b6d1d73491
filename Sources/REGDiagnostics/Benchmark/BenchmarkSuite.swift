import REG

/// Every operation's benchmark, in the order `reg bench` runs them. Each operation adds its
/// descriptor here.
public enum BenchmarkSuite {
    public struct Entry: Sendable {
        /// Operation name as `reg bench --only` takes it, e.g. "refinement".
        public let operation: String
        /// Runs the operation's workloads on `engine` (OpenCL device or CPU reference).
        public let run: @Sendable (_ engine: Engine, _ quick: Bool) throws -> [BenchmarkRecord]

        init<D: OperationDescriptor>(_ descriptor: D.Type) {
            operation = D.name
            run = { try D.benchmark(engine: $0, quick: $1) }
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
