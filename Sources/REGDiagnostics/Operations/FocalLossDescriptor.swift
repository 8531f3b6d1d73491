import REG

/// The focal loss, forward and backward.
///
/// Check: random cases over every setting (layout, activation, γ, α, the torchvision split, spatial
/// weight, σ, reduction and normaliser), logits in ±30 with some ±1e4, soft targets and ignore labels. Two rows
/// judge the same cases, because docs/math.md gives the two quantities different tolerances:
/// `focal-loss` judges the loss value and the raw sum (relative ≤ 1e-5), the count and the
/// positives (exact);
/// `focal-loss-gradient` judges ∂L/∂z and ∂L/∂σ (|Δ| ≤ 1e-5 · max(1, max|reference|) per case).
///
/// Benchmark: four workloads, each a row operation. Elements are logits; the detection rows are
/// `[N, 8]` with N·8 = 2^k (sized `2^k`: 2^20 … 2^25 on the device, 2^20, 2^22, 2^24 on the float64
/// reference; quick 2^16, 2^18; smoke 2^12), the segmentation rows `[B, 5, H, W]` (sized
/// `BxHxWxC5`, about the same element counts). All take the mean; the error is over ∂L/∂z.
/// - `focal-det`: sigmoid, γ = 2, no spatial weight. Bytes per logit: 4 logit + 4 target read,
///   4 gradient written = 12.
/// - `focal-det-refine`: the peers' detection workload: sigmoid, α_c = 0.25 + 0.1·c, γ = 2, binary
///   targets, distances d with g = σ(β(d − δ)), β = 0.5, δ = 8, computed in the kernel. Bytes per
///   logit: 4 each of logit, target and d read, 4 gradient written = 16.
/// - `focal-det-refine-sigma`: `focal-det-refine` plus a σ per logit (the uncertainty p̂). Bytes per
///   logit: 4 each of logit, target, d, σ read, 4 each of gradient and ∂L/∂σ written = 24.
/// - `focal-seg-softmax`: softmax, C = 5, γ = 2, 10% of pixels ignored. Bytes per pixel: 5·4 logits
///   + 1 label read, 5·4 gradient written, + 1 label read again by the count pass that the mean's
///   1/count needs before the gradient is written = 42 (8.4 per logit).
enum FocalLossDescriptor: OperationDescriptor {
    typealias Routine = FocalLossRoutine
    static let name = "focal-loss"

    static let judges = [
        Judge<Self>(row: "focal-loss", tolerance: ElementTolerance(relative: 1e-5, quantity: "loss")) {
            label, _, onDevice, expected, statistics in
            statistics.add(device: onDevice.loss, reference: expected.loss, "\(label): loss")
            statistics.add(device: Float(onDevice.sum), reference: expected.sum, "\(label): sum")
            if onDevice.count != expected.count || onDevice.positives != expected.positives {
                statistics.reject("\(label): count, positives \(onDevice.count), \(onDevice.positives); reference \(expected.count), \(expected.positives)")
            }
        },
        Judge<Self>(row: "focal-loss-gradient",
                    tolerance: ElementTolerance(absolute: 1e-5, quantity: "∂L/∂z, ∂L/∂σ", absoluteScale: "max(1, max|ref|)")) {
            label, _, onDevice, expected, statistics in
            let scale = max(1, expected.gradient.lazy.map(abs).max() ?? 0)
            for i in expected.gradient.indices {
                statistics.add(device: onDevice.gradient[i], reference: expected.gradient[i], scale: scale,
                               "\(label): ∂L/∂z[\(i)]")
            }
            if let reference = expected.sigmaGradient {
                let sigmaScale = max(1, reference.lazy.map(abs).max() ?? 0)
                for i in reference.indices {
                    statistics.add(device: onDevice.sigmaGradient?[i] ?? .nan, reference: reference[i],
                                   scale: sigmaScale, "\(label): ∂L/∂σ[\(i)]")
                }
            }
            if let reference = expected.scalarSigmaGradient {
                statistics.add(device: onDevice.scalarSigmaGradient ?? .nan, reference: reference,
                               scale: max(1, abs(reference)), "\(label): ∂L/∂σ")
            }
        },
    ]

    static func randomCase(_ number: Int, _ random: inout SplitMix64) throws -> CheckCase<FocalLossInput> {
        let segmentation = random.chance(0.5)
        let classes = segmentation ? Int.random(in: 2...7, using: &random) : Int.random(in: 1...9, using: &random)
        var settings = FocalLoss(gamma: [0, 0.5, 1, 2, 2.5, 3][Int.random(in: 0..<6, using: &random)])
        if segmentation && random.chance(0.5) { settings.activation = .softmax }
        if random.chance(0.5) { settings.alpha = (0..<classes).map { _ in Float.random(in: 0...4, using: &random) } }
        if random.chance(0.25) { settings.positiveFraction = Float.random(in: 0...1, using: &random) }
        if random.chance(0.3) { settings.reduction = random.chance(0.5) ? .sum : .none }
        if random.chance(0.2) { settings.gradientScale = Float.random(in: -3...3, using: &random) }
        if settings.reduction == .mean && random.chance(0.4) {
            settings.normalizer = random.chance(0.5) ? .positives : .given(Double.random(in: 0.5...500, using: &random))
        }

        let samples = segmentation ? 0 : Int.random(in: 1...600, using: &random)
        let (batch, height, width) = segmentation
            ? (Int.random(in: 1...3, using: &random), Int.random(in: 1...23, using: &random), Int.random(in: 1...37, using: &random))
            : (0, 0, 0)
        let count = segmentation ? batch * classes * height * width : samples * classes
        let logits = (0..<count).map { _ in
            random.chance(0.02) ? (random.chance(0.5) ? Float(1e4) : -1e4) : Float.random(in: -30...30, using: &random)
        }
        switch Int.random(in: 0..<3, using: &random) {
        case 0: settings.spatial = .weights((0..<count).map { _ in Float.random(in: 0...2, using: &random) })
        case 1:
            let d = (0..<count).map { _ in random.chance(0.1) ? Float.infinity : Float.random(in: 0...64, using: &random) }
            settings.spatial = .distances(d, Refinement(beta: Float(random.signedLogUniform(0.01, 4)),
                                                        delta: Float.random(in: 0...16, using: &random)))
        default: break
        }
        switch Int.random(in: 0..<3, using: &random) {
        case 0: settings.uncertainty = .scalar(random.chance(0.5) ? 0.05 : Float.random(in: 0...0.5, using: &random))
        case 1: settings.uncertainty = .perElement((0..<count).map { _ in Float.random(in: 0...0.3, using: &random) })
        default: break
        }

        if segmentation {
            let labels = (0..<(batch * height * width)).map { _ in
                random.chance(0.1) ? LabelMap.ignore : UInt8.random(in: 0...UInt8(classes), using: &random)
            }
            return CheckCase(problem: try FocalLossInput(segmentation: logits, labels: labels, batch: batch, classes: classes,
                                                         height: height, width: width, settings),
                             label: "case \(number) (segmentation \(batch)×\(classes)×\(height)×\(width), \(settings.activation), γ \(settings.gamma))")
        }
        let soft = random.chance(0.5)
        let targets = (0..<count).map { _ in
            soft ? Float.random(in: 0...1, using: &random) : (random.chance(0.2) ? Float(1) : 0)
        }
        return CheckCase(problem: try FocalLossInput(detection: logits, targets: targets, samples: samples, classes: classes,
                                                     settings),
                         label: "case \(number) (detection \(samples)×\(classes), γ \(settings.gamma))")
    }

    static func benchmarkCases(scale: BenchmarkScale, onDevice: Bool) -> [BenchmarkCase<FocalLossInput>] {
        let exponents = switch scale {
        case .full: onDevice ? Array(20...25) : [20, 22, 24]
        case .quick: [16, 18]
        case .smoke: [12]
        }
        // Segmentation maps of about the same element counts (B×H×W pixels, C = 5).
        let maps: [(batch: Int, height: Int, width: Int)] = switch scale {
        case .full: onDevice ? [(8, 128, 256), (8, 256, 256), (8, 256, 512), (8, 512, 512), (8, 512, 1024), (8, 1024, 1024)]
                             : [(8, 128, 256), (8, 256, 512), (8, 512, 1024)]
        case .quick: [(2, 64, 128), (2, 128, 256)]
        case .smoke: [(1, 16, 32)]
        }
        func timing(_ elements: Int) -> (warmup: Int, repeats: Int) {
            switch scale {
            case .full: (onDevice ? 2 : 1, elements >= 1 << 24 ? 5 : 7)
            case .quick: (onDevice ? 2 : 1, 3)
            case .smoke: (1, 2)
            }
        }
        // Half-precision rows (device only): float16 logits, targets and gradients, 6 bytes per
        // logit fewer than float32 (focal-det-refine: 10 instead of 16; segmentation: 4 per logit).
        let variants = onDevice ? [BenchmarkVariant.f32, BenchmarkVariant.f16] : [BenchmarkVariant.f32]
        var cases: [BenchmarkCase<FocalLossInput>] = []
        for (operation, bytesPerLogit, settings) in detectionWorkloads {
            for exponent in exponents {
                for variant in variants where variant == BenchmarkVariant.f32 || operation == "focal-det-refine" {
                    let samples = (1 << exponent) / 8, (warmup, repeats) = timing(1 << exponent)
                    let half = variant == BenchmarkVariant.f16
                    cases.append(BenchmarkCase(operation: operation, variant: variant, size: "2^\(exponent)",
                                               detail: "\(samples)×8 logits", warmup: warmup, repeats: repeats) {
                        let (logits, targets) = detection(samples: samples, classes: 8)
                        let input = half
                            ? try FocalLossInput(detection: logits.map { Float16($0) }, targets: targets.map { Float16($0) },
                                                 samples: samples, classes: 8, settings(logits.count), gradient: .float16)
                            : try FocalLossInput(detection: logits, targets: targets, samples: samples, classes: 8,
                                                 settings(logits.count))
                        return BenchmarkWorkload(problem: input, elements: input.elementCount,
                                                 bytes: (bytesPerLogit - (half ? 6 : 0)) * input.elementCount)
                    })
                }
            }
        }
        for (batch, height, width) in maps {
            for variant in variants {
                let pixels = batch * height * width, (warmup, repeats) = timing(5 * pixels)
                let half = variant == BenchmarkVariant.f16
                cases.append(BenchmarkCase(operation: "focal-seg-softmax", variant: variant, size: "\(batch)x\(height)x\(width)xC5",
                                           detail: "\(batch)×5×\(height)×\(width) logits, 10% of pixels ignored",
                                           warmup: warmup, repeats: repeats) {
                    let logits = (0..<(pixels * 5)).map(logit)
                    let labels = (0..<pixels).map { j -> UInt8 in j % 10 == 9 ? LabelMap.ignore : UInt8((j &* 7) % 6) }
                    let settings = FocalLoss(activation: .softmax, gamma: 2)
                    let input = half
                        ? try FocalLossInput(segmentation: logits.map { Float16($0) }, labels: labels, batch: batch, classes: 5,
                                             height: height, width: width, settings, gradient: .float16)
                        : try FocalLossInput(segmentation: logits, labels: labels, batch: batch, classes: 5, height: height,
                                             width: width, settings)
                    return BenchmarkWorkload(problem: input, elements: input.elementCount, bytes: (half ? 22 : 42) * pixels)
                })
            }
        }
        return cases
    }

    /// ∂L/∂z.
    static func benchmarkError(_ input: FocalLossInput, device: FocalLossResult<Float>,
                               reference: FocalLossResult<Double>) -> Double {
        MaxAbsoluteError.of(device: device.gradient, reference: reference.gradient)
    }

    static func run(_ input: FocalLossInput, on engine: Engine) throws -> FocalLossResult<Float> {
        let gradient: FloatPrecision = input.precision.gradient ? .float16 : .float32
        switch input.layout {
        case .detection(let samples, let classes) where input.precision.logits:
            return try engine.focalLoss(detection: input.halfLogits, targets: input.halfTargets, samples: samples,
                                        classes: classes, input.settings, gradient: gradient)
        case .detection(let samples, let classes):
            return try engine.focalLoss(detection: input.logits, targets: input.targets, samples: samples, classes: classes,
                                        input.settings, gradient: gradient)
        case .segmentation(let batch, let classes, let height, let width) where input.precision.logits:
            return try engine.focalLoss(segmentation: input.halfLogits, labels: input.labels, batch: batch, classes: classes,
                                        height: height, width: width, input.settings, gradient: gradient)
        case .segmentation(let batch, let classes, let height, let width):
            return try engine.focalLoss(segmentation: input.logits, labels: input.labels, batch: batch, classes: classes,
                                        height: height, width: width, input.settings)
        }
    }

    /// The pre-pass counts, the main kernel and the final reduction, as `reg bench` shows them.
    static func stageSeconds(_ prepared: FocalLossRoutine.Prepared) -> [String: Double]? {
        try? prepared.stageSeconds()
    }

    static func reference(_ input: FocalLossInput) throws -> FocalLossResult<Double> {
        try FocalLossReference.evaluate(input)
    }

    /// The detection workloads: (row operation, bytes per logit, the settings for this many logits).
    private static let detectionWorkloads: [(String, Int, @Sendable (Int) -> FocalLoss)] = [
        ("focal-det", 12, { _ in FocalLoss(gamma: 2) }),
        ("focal-det-refine", 16, { count in
            FocalLoss(alpha: refineAlpha, gamma: 2, spatial: .distances(refineDistances(count), Refinement(beta: 0.5, delta: 8)))
        }),
        ("focal-det-refine-sigma", 24, { count in
            FocalLoss(alpha: refineAlpha, gamma: 2, spatial: .distances(refineDistances(count), Refinement(beta: 0.5, delta: 8)),
                      uncertainty: .perElement((0..<count).map { i in Float(i % 50) / 500 }))
        }),
    ]

    /// α_c = 0.25 + 0.1·c for the 8 classes.
    static let refineAlpha: [Float] = (0..<8).map { 0.25 + 0.1 * Float($0) }

    /// Distances 0 … 64 px in steps of 0.01, with every 97th one ∞ (no object of the class).
    static func refineDistances(_ count: Int) -> [Float] {
        (0..<count).map { i in i % 97 == 0 ? Float.infinity : Float(i % 6400) / 100 }
    }

    /// Logits spread over about ±12 by a multiplicative hash of the index.
    static func logit(_ i: Int) -> Float { Float((UInt32(truncatingIfNeeded: i) &* 2_654_435_761) >> 8) / 699_050.7 - 12 }

    static func detection(samples: Int, classes: Int) -> (logits: [Float], targets: [Float]) {
        let logits = (0..<(samples * classes)).map(logit)
        let targets = (0..<(samples * classes)).map { i -> Float in i % classes == (i / classes) % classes ? 1 : 0 }
        return (logits, targets)
    }
}
