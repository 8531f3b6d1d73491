/// Every operation's benchmark, in the order `reg bench` runs them. Each operation adds one entry.
public enum BenchmarkSuite {
    public struct Entry: Sendable {
        /// Operation name as `reg bench --only` takes it, e.g. "refinement".
        public let operation: String
        /// Runs the operation at its benchmark sizes on `engine` (OpenCL device or CPU reference).
        public let run: @Sendable (_ engine: Engine, _ quick: Bool) throws -> [BenchmarkRecord]
    }

    public static let entries: [Entry] = [
        Entry(operation: "refinement", run: RefinementBenchmark.run),
        Entry(operation: "focal-loss", run: FocalLossBenchmark.run),
        Entry(operation: "distance-transform", run: DistanceTransformBenchmark.run),
        Entry(operation: "box-distance", run: BoxDistanceBenchmark.run),
    ]
}
