import Foundation
import REG

/// Every operation's benchmark, in the order `reg bench` runs them. Each operation adds its
/// descriptor here.
public enum BenchmarkSuite {
    public struct Entry: Sendable {
        /// The descriptor's name, as `reg check --only` takes it, e.g. "focal-loss". `reg bench
        /// --only` takes it too, or one of the row operations (e.g. "focal-det-refine").
        public let operation: String
        /// The rows of this entry on the device (`onDevice`) or on the CPU reference, at a scale:
        /// named, not yet built (a row builds its input only when it runs).
        public let jobs: @Sendable (_ scale: BenchmarkScale, _ onDevice: Bool) -> [BenchmarkJob]

        init<D: OperationDescriptor>(_ descriptor: D.Type) {
            operation = D.name
            jobs = { D.benchmarkJobs(scale: $0, onDevice: $1) }
        }
    }

    public static let entries: [Entry] = [
        Entry(RefinementDescriptor.self),
        Entry(FocalLossDescriptor.self),
        Entry(DistanceTransformDescriptor.self),
        Entry(BoxDistanceDescriptor.self),
        Entry(StepDescriptor.self),
    ]

    /// Every row operation of every entry (the names `--only` takes besides the entries' own).
    public static var rowOperations: [String] {
        var names: [String] = []
        for entry in entries {
            for job in entry.jobs(.full, true) + entry.jobs(.full, false) where !names.contains(job.operation) {
                names.append(job.operation)
            }
        }
        return names
    }

    /// The rows `reg bench` runs with `options`, in order: for each entry, its device rows (when
    /// there is a device), then its CPU-reference rows (unless `includeReference` is off), each
    /// kept only if `--only` and `--filter` select it. Without a device the engine is the
    /// reference, and the reference rows are all there is.
    public static func jobs(onDevice: Bool, _ options: BenchmarkOptions) -> [BenchmarkJob] {
        var jobs: [BenchmarkJob] = []
        for entry in entries {
            var candidates = onDevice ? entry.jobs(options.scale, true) : []
            if options.includeReference { candidates += entry.jobs(options.scale, false) }
            jobs += candidates.filter { job in
                (options.only == nil || options.only == entry.operation || options.only == job.operation)
                    && (options.filter?.matches(job.name) ?? true)
            }
        }
        return jobs
    }
}

/// One row `reg bench` can run: its name, known before anything is built, and how to measure it.
public struct BenchmarkJob: Sendable {
    public let operation: String
    public let variant: String
    public let size: String
    /// The size in words, for the label and the tables.
    public let detail: String
    /// True on the OpenCL device, false on the CPU reference.
    public let onDevice: Bool
    /// Builds the input, times it on the engine (with this many repetitions if given), and on the
    /// device compares its output with the float64 reference.
    let measure: @Sendable (_ engine: Engine, _ repetitions: Int?) throws -> BenchmarkRecord

    /// `<operation>/<variant>/<size>`, what `--filter` matches.
    public var name: String { "\(operation)/\(variant)/\(size)" }
}

/// Which sizes run: `full` (`reg bench`), `quick` (`reg bench --quick`: small sizes, few
/// repeats), `smoke` (one tiny size per row, for the tests: seconds in a debug build).
public enum BenchmarkScale: String, Sendable, CaseIterable {
    case full, quick, smoke
}

/// What `reg bench` runs.
public struct BenchmarkOptions: Sendable {
    public var scale: BenchmarkScale
    /// An entry (descriptor) name or a row operation name; nil for all.
    public var only: String?
    /// Google Benchmark's `--benchmark_filter`: rows whose name matches.
    public var filter: BenchmarkFilter?
    /// Timed runs per row, instead of each row's own count.
    public var repetitions: Int?
    /// Whether to run the CPU-reference rows.
    public var includeReference: Bool

    public init(scale: BenchmarkScale = .full, only: String? = nil, filter: BenchmarkFilter? = nil,
                repetitions: Int? = nil, includeReference: Bool = true) {
        self.scale = scale
        self.only = only
        self.filter = filter
        self.repetitions = repetitions
        self.includeReference = includeReference
    }
}

/// A row filter as Google Benchmark's `--benchmark_filter` reads it: a regular expression (ICU
/// syntax, as NSRegularExpression takes it) searched anywhere in the row's name; a leading `-`
/// negates it (`-reference` keeps every row whose name does not contain "reference").
public struct BenchmarkFilter: @unchecked Sendable { // NSRegularExpression is immutable and thread-safe
    public let pattern: String
    private let negated: Bool
    private let expression: NSRegularExpression

    /// Throws when the pattern is not a regular expression.
    public init(_ pattern: String) throws {
        self.pattern = pattern
        negated = pattern.hasPrefix("-")
        expression = try NSRegularExpression(pattern: negated ? String(pattern.dropFirst()) : pattern)
    }

    public func matches(_ name: String) -> Bool {
        let found = expression.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
        return found != negated
    }
}
