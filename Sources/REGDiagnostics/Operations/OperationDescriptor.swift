import REG
import REGRuntime

/// One operation as `reg check` and `reg bench` see it (CLBlast keeps one such descriptor per
/// routine for its tester and its timer): random cases and benchmark workloads, the run through
/// the engine and through the float64 reference, the judges that compare the two, and the bytes
/// each workload moves. The loops over cases and sizes are written once, below.
protocol OperationDescriptor {
    associatedtype Routine: DeviceRoutine
    /// A case or workload; usually the routine's problem, or something that owns its memory.
    associatedtype Problem = Routine.Problem
    associatedtype ReferenceOutput

    /// The name `reg check --only` and `reg bench --only` take.
    static var name: String { get }
    /// `reg check`'s rows for this operation: each judges every case under its own tolerance.
    static var judges: [Judge<Self>] { get }
    /// Random case `number`, drawn from `random`.
    static func randomCase(_ number: Int, _ random: inout SplitMix64) throws -> CheckCase<Problem>
    /// `reg bench`'s workloads at `scale` (fewer on the slow float64 reference), named up front;
    /// each builds its input only when its row runs. A device variant other than f32 (f16) is
    /// one more case with its `variant` set, returned only when `onDevice`.
    static func benchmarkCases(scale: BenchmarkScale, onDevice: Bool) -> [BenchmarkCase<Problem>]
    /// max |device − float64 reference| over the operation's main output, for `reg bench`'s
    /// `max_abs_error_vs_reference` (equal values, infinities included, differ by 0).
    static func benchmarkError(_ problem: Problem, device: Routine.Output, reference: ReferenceOutput) -> Double
    /// The public engine call a user makes: what is checked, and what the wall time measures.
    static func run(_ problem: Problem, on engine: Engine) throws -> Routine.Output
    /// The float64 reference.
    static func reference(_ problem: Problem) throws -> ReferenceOutput
    /// What the routine takes for `problem` (for the kernel time).
    static func routineProblem(_ problem: Problem) -> Routine.Problem
    /// Device seconds per stage of the evaluation `reg bench` last timed, where the operation
    /// has stages (e.g. the step's distances and focal kernels).
    static func stageSeconds(_ prepared: Routine.Prepared) -> [String: Double]?
}

extension OperationDescriptor where Problem == Routine.Problem {
    static func routineProblem(_ problem: Problem) -> Routine.Problem { problem }
}

extension OperationDescriptor {
    static func stageSeconds(_ prepared: Routine.Prepared) -> [String: Double]? { nil }
}

/// One random case of `reg check`.
struct CheckCase<Problem> {
    let problem: Problem
    /// Names the case in a failure, e.g. "case 3 (detection 17×4, γ 2.5)".
    let label: String
    /// The case plants a bad element: both sides must refuse it with the same error.
    var expectsRefusal = false
}

/// One workload of `reg bench`: its row's name and timing settings, and how to build its input.
struct BenchmarkCase<Problem>: Sendable {
    /// The row's operation, e.g. "focal-det-refine" (an operation may have several workloads).
    let operation: String
    /// The device variant: "f32", or e.g. "f16" for a half-precision workload of the same size.
    /// On the CPU reference every row is named "reference" instead.
    var variant = BenchmarkVariant.f32
    /// The size as the row name writes it: "2^22", "8x512x512xC5" (docs/cli.md).
    let size: String
    /// The size in words, for the label and the tables: "524288×8 logits".
    let detail: String
    var warmup = 2
    var repeats = 5
    /// Builds the input, with the work units and bytes it stands for.
    let make: @Sendable () throws -> BenchmarkWorkload<Problem>
}

/// A built benchmark input.
struct BenchmarkWorkload<Problem> {
    let problem: Problem
    /// Work units per run (elements, pixel-maps).
    let elements: Int
    /// What the operation must move at the least: each input read once, each output written once.
    let bytes: Int
}

/// One row of `reg check`: a tolerance and how to compare one case's two results under it.
struct Judge<Descriptor: OperationDescriptor>: Sendable {
    let row: String
    let tolerance: ElementTolerance
    let compare: @Sendable (_ label: String, _ problem: Descriptor.Problem, _ device: Descriptor.Routine.Output,
                  _ reference: Descriptor.ReferenceOutput, _ statistics: inout ErrorStatistics) -> Void
}

extension OperationDescriptor {
    /// Runs `cases` random cases from `seed` on `device` (an engine that throws instead of falling
    /// back) and on the reference, and judges each. A case computed on the reference instead of
    /// the device fails every row: a check must never compare the reference with itself.
    static func check(device: Engine, cases: Int, seed: UInt64) throws -> [CheckOutcome] {
        var random = SplitMix64(seed: seed)
        var statistics = judges.map { ErrorStatistics(tolerance: $0.tolerance) }
        func rejectAll(_ reason: String) {
            for j in statistics.indices { statistics[j].reject(reason) }
        }
        for number in 0..<cases {
            let drawn = try randomCase(number, &random)
            let onDevice = try refusal { try device.reporting { try run(drawn.problem, on: $0) } }
            let onReference = try refusal { try reference(drawn.problem) }
            switch (onDevice, onReference) {
            case (.success(let computed), .success(let expected)):
                if computed.backend == .reference {
                    rejectAll("\(drawn.label): computed on the reference, not on the device")
                } else if drawn.expectsRefusal {
                    rejectAll("\(drawn.label): neither side refused the planted bad element")
                } else {
                    for j in judges.indices {
                        judges[j].compare(drawn.label, drawn.problem, computed.value, expected, &statistics[j])
                    }
                }
            case (.failure(let a), .failure(let b)) where a == b:
                continue // both refuse the same element
            default:
                rejectAll("\(drawn.label): device \(describe(onDevice)), reference \(describe(onReference))")
            }
        }
        return judges.indices.map { CheckOutcome(row: judges[$0].row, cases: cases, statistics[$0]) }
    }

    /// The rows of this operation at `scale` on the device or the CPU reference, named and not
    /// yet built. The reference keeps only the f32 cases and names them "reference".
    static func benchmarkJobs(scale: BenchmarkScale, onDevice: Bool) -> [BenchmarkJob] {
        benchmarkCases(scale: scale, onDevice: onDevice).compactMap { workload in
            guard onDevice || workload.variant == BenchmarkVariant.f32 else { return nil }
            let variant = onDevice ? workload.variant : BenchmarkVariant.reference
            return BenchmarkJob(operation: workload.operation, variant: variant, size: workload.size,
                                detail: workload.detail, onDevice: onDevice) { engine, repetitions in
                try benchmark(workload, variant: variant, on: engine, repetitions: repetitions)
            }
        }
    }

    /// Times one workload on `engine`: the median wall time of the public call (uploads, kernels,
    /// read-back), and on OpenCL the median kernel time of one evaluation whose inputs are already
    /// on the device (from profiling events); then, on OpenCL, the float64 reference of the same
    /// input, once, against the last timed call's output.
    static func benchmark(_ workload: BenchmarkCase<Problem>, variant: String, on engine: Engine,
                          repetitions: Int?) throws -> BenchmarkRecord {
        let built = try workload.make()
        let repeats = max(1, repetitions ?? workload.repeats)
        var output: Routine.Output?
        let wall = try Stopwatch.median(warmup: workload.warmup, repeats: repeats) {
            var result: Routine.Output?
            let seconds = try Stopwatch.seconds { result = try run(built.problem, on: engine) }
            output = result // the previous output is released outside the timed call
            return seconds
        }
        var kernel = wall
        var stages: [String: Double]? = nil
        var error = 0.0
        if case .openCL(let context) = engine.backend {
            do {
                let routine = try Routine(context: context, configuration: engine.configuration)
                let prepared = try routine.prepare(routineProblem(built.problem))
                kernel = try Stopwatch.median(warmup: workload.warmup, repeats: repeats) {
                    try routine.kernelSeconds(prepared)
                }
                stages = stageSeconds(prepared)
            }
            if let output { error = benchmarkError(built.problem, device: output, reference: try reference(built.problem)) }
        }
        return BenchmarkRecord(operation: workload.operation, variant: variant, size: workload.size,
                               detail: workload.detail, backend: "\(engine.backend)", elements: built.elements,
                               bytes: built.bytes, medianSeconds: kernel, medianWallSeconds: wall, repeats: repeats,
                               maxAbsErrorVsReference: error, stageSeconds: stages)
    }

    /// The `InvalidArgument` that `body` throws as a failure; other errors propagate.
    private static func refusal<T>(_ body: () throws -> T) throws -> Result<T, InvalidArgument> {
        do {
            return .success(try body())
        } catch let error as InvalidArgument {
            return .failure(error)
        }
    }

    private static func describe<T>(_ outcome: Result<T, InvalidArgument>) -> String {
        switch outcome {
        case .success: "no error"
        case .failure(let error): "\(error)"
        }
    }
}
