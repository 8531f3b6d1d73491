import REGRuntime

/// Refinement throughput: 4 bytes read (d) + 4 bytes written (g) per element.
enum RefinementBenchmark {
    static let bytesPerElement = 8

    static func run(engine: Engine, quick: Bool) throws -> [BenchmarkRecord] {
        let exponents = quick ? [16, 20] : [20, 22, 24]
        let refinement = Refinement(beta: 0.5, delta: 8)
        var records: [BenchmarkRecord] = []
        for exponent in exponents {
            let count = 1 << exponent
            let distances = (0..<count).map { Float($0 % 4096) / 64 }
            let repeats = quick ? 3 : 7
            let wall = try Stopwatch.median(repeats: repeats) {
                try Stopwatch.seconds { _ = try engine.refine(distances: distances, refinement) }
            }
            var kernel = wall
            if case .openCL(let context) = engine.backend {
                let routine = try RefinementRoutine(context: context, configuration: engine.configuration)
                let input = try Buffer(context: context, copying: distances)
                let output = try Buffer<Float>(context: context, count: count)
                kernel = try Stopwatch.median(repeats: repeats) {
                    try routine.kernelSeconds(input: input, output: output, refinement)
                }
            }
            records.append(BenchmarkRecord(operation: "refinement", backend: "\(engine.backend)",
                                           size: "2^\(exponent) elements", elements: count,
                                           bytes: count * bytesPerElement, medianSeconds: kernel,
                                           medianWallSeconds: wall, repeats: repeats))
        }
        return records
    }
}
