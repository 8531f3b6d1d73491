import REGRuntime

/// Focal-loss throughput at 2^20 … 2^25 logits (quick: 2^16, 2^18), three cases:
///
/// - `focal det`: detection `[N, 8]`, sigmoid, γ = 2, mean. Bytes per logit: 4 logit + 4 target
///   read, 4 gradient written = 12.
/// - `focal seg smax`: segmentation `[4, 5, H, 512]`, softmax, γ = 2, mean, ~10% of pixels ignored.
///   Bytes per pixel: 5·4 logits + 1 label read, 5·4 gradient written, + 1 label read again by the
///   count pass that the mean's 1/count needs before the gradient is written = 42 (8.4 per logit).
/// - `focal det d+σ`: detection `[N, 8]` with distances d (g computed in the kernel) and a σ per
///   logit, γ = 2.5 (the non-integer path), mean. Bytes per logit: 4 each of logit, target, d, σ
///   read, 4 each of gradient and ∂L/∂σ written = 24.
///
/// On OpenCL `medianSeconds` is the kernel time from profiling events (every kernel of one
/// evaluation, data already on the device); `medianWallSeconds` is the whole `engine.focalLoss`
/// call (upload, kernels, read-back). The float64 CPU reference is single-threaded and slow, so it
/// runs at 2^20, 2^22 and 2^24 only (quick: the same sizes as the device).
enum FocalLossBenchmark {
    struct Case: Sendable {
        let operation: String
        let bytesPerLogit: Double
        let make: @Sendable (_ exponent: Int) throws -> (input: FocalLossInput, size: String)
    }

    static let cases: [Case] = [
        Case(operation: "focal det", bytesPerLogit: 12) { exponent in
            let samples = (1 << exponent) / 8
            let (logits, targets) = detection(samples: samples, classes: 8)
            return (try FocalLossInput(detection: logits, targets: targets, samples: samples, classes: 8,
                                       FocalLoss(gamma: 2)), "2^\(exponent) [\(samples),8]")
        },
        Case(operation: "focal seg smax", bytesPerLogit: 42.0 / 5) { exponent in
            let height = max(1, (1 << exponent) / (5 * 4 * 512))
            let pixels = 4 * height * 512
            let logits = (0..<(pixels * 5)).map(logit)
            let labels = (0..<pixels).map { j -> UInt8 in j % 10 == 9 ? 255 : UInt8((j &* 7) % 6) }
            return (try FocalLossInput(segmentation: logits, labels: labels, batch: 4, classes: 5, height: height,
                                       width: 512, FocalLoss(activation: .softmax, gamma: 2)),
                    "2^\(exponent) [4,5,\(height),512]")
        },
        Case(operation: "focal det d+σ", bytesPerLogit: 24) { exponent in
            let samples = (1 << exponent) / 8
            let (logits, targets) = detection(samples: samples, classes: 8)
            let distances = (0..<logits.count).map { i in i % 97 == 0 ? Float.infinity : Float(i % 6400) / 100 }
            let sigma = (0..<logits.count).map { i in Float(i % 50) / 500 }
            let settings = FocalLoss(gamma: 2.5, spatial: .distances(distances, Refinement(beta: 0.5, delta: 8)),
                                     uncertainty: .perElement(sigma))
            return (try FocalLossInput(detection: logits, targets: targets, samples: samples, classes: 8, settings),
                    "2^\(exponent) [\(samples),8]")
        },
    ]

    /// Logits spread over about ±12 by a multiplicative hash of the index.
    static func logit(_ i: Int) -> Float { Float((UInt32(truncatingIfNeeded: i) &* 2_654_435_761) >> 8) / 699_050.7 - 12 }

    static func detection(samples: Int, classes: Int) -> (logits: [Float], targets: [Float]) {
        let logits = (0..<(samples * classes)).map(logit)
        let targets = (0..<(samples * classes)).map { i -> Float in i % classes == (i / classes) % classes ? 1 : 0 }
        return (logits, targets)
    }

    static func run(engine: Engine, quick: Bool) throws -> [BenchmarkRecord] {
        let onDevice = engine.device != nil
        let exponents = quick ? [16, 18] : (onDevice ? Array(20...25) : [20, 22, 24])
        var records: [BenchmarkRecord] = []
        for benchmark in cases {
            for exponent in exponents {
                let (input, size) = try benchmark.make(exponent)
                let repeats = quick ? 3 : (exponent >= 24 ? 5 : 7)
                let wall = try Stopwatch.median(warmup: onDevice ? 2 : 1, repeats: repeats) {
                    try Stopwatch.seconds { _ = try evaluate(input, on: engine) }
                }
                var kernel = wall
                if case .openCL(let context) = engine.backend {
                    let routine = try FocalLossRoutine(context: context, configuration: engine.configuration)
                    let problem = try routine.prepare(input)
                    kernel = try Stopwatch.median(repeats: repeats) { try routine.kernelSeconds(problem) }
                }
                records.append(BenchmarkRecord(operation: benchmark.operation, backend: "\(engine.backend)", size: size,
                                               elements: input.elementCount,
                                               bytes: Int(Double(input.elementCount) * benchmark.bytesPerLogit),
                                               medianSeconds: kernel, medianWallSeconds: wall, repeats: repeats))
            }
        }
        return records
    }

    private static func evaluate(_ input: FocalLossInput, on engine: Engine) throws -> FocalLossResult<Float> {
        let s = input.settings
        switch input.layout {
        case .detection(let samples, let classes):
            return try engine.focalLoss(detection: input.logits, targets: input.targets, samples: samples,
                                        classes: classes, s)
        case .segmentation(let batch, let classes, let height, let width):
            return try engine.focalLoss(segmentation: input.logits, labels: input.labels, batch: batch,
                                        classes: classes, height: height, width: width, s)
        }
    }
}
