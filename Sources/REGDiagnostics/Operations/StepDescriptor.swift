import REG

/// The whole REG step: detection and segmentation, distances, refinement and focal loss.
///
/// Check: random small batches over every setting (either task or both, refinement on or off
/// with β of both signs, σ maps or a scalar σ, softmax or sigmoid segmentation, α, the
/// normalisers, λ), the device step against the reference step. Two rows, as for the focal
/// loss: `step` judges the total and each task's sum (relative ≤ 1e-5) and counts (exact);
/// `step-gradient` judges every gradient (|Δ| ≤ 1e-5 · max(1, max|reference|)).
///
/// Benchmark (`step/<variant>/BxHxWxC5+NxC7`): N = 100 000 anchors × 7 classes over 8 images of
/// 512² with 20 boxes each, and 8 × 5 × 512² segmentation logits with their label maps, refinement
/// on both tasks (quick: 10 000 anchors, 2 × 5 × 128²; smoke: 1 000 anchors, 1 × 5 × 32²); the
/// error is over every gradient. Bytes count each input read
/// once and each gradient written once: 12 per detection logit (logit, target, gradient) plus 12
/// per point and 24 per box; 8 per segmentation logit (logit, gradient) plus 1 per pixel (label).
/// The stages are the distance kernels (box distances and the EDT) and the focal kernels; the
/// rest of the wall time is transfers and host work.
enum StepDescriptor: OperationDescriptor {
    typealias Routine = StepRoutine
    typealias Problem = PinnedStep
    static let name = "step"

    static let judges = [
        Judge<Self>(row: "step", tolerance: ElementTolerance(relative: 1e-5, quantity: "loss")) {
            label, _, onDevice, expected, statistics in
            statistics.add(device: Float(onDevice.total), reference: expected.result.total, "\(label): total")
            for (task, device, reference) in [("det", onDevice.detection, expected.result.detection),
                                              ("seg", onDevice.segmentation, expected.result.segmentation)] {
                guard let device, let reference else { continue }
                statistics.add(device: Float(device.sum), reference: reference.sum, "\(label): \(task) sum")
                if device.count != reference.count || device.positives != reference.positives {
                    statistics.reject("\(label): \(task) count, positives \(device.count), \(device.positives); reference \(reference.count), \(reference.positives)")
                }
            }
        },
        Judge<Self>(row: "step-gradient",
                    tolerance: ElementTolerance(absolute: 1e-5, quantity: "∂L/∂z, ∂L/∂σ", absoluteScale: "max(1, max|ref|)")) {
            label, pinned, _, expected, statistics in
            let pairs: [(String, UnsafeMutableBufferPointer<Float>?, [Float]?)] = [
                ("det ∂L/∂z", pinned.gradients.detectionLogits, expected.detectionGradient),
                ("det ∂L/∂σ", pinned.gradients.detectionSigma, expected.detectionSigmaGradient),
                ("seg ∂L/∂z", pinned.gradients.segmentationLogits, expected.segmentationGradient),
                ("seg ∂L/∂σ", pinned.gradients.segmentationSigma, expected.segmentationSigmaGradient),
            ]
            for (what, device, reference) in pairs {
                guard let device, let reference, !reference.isEmpty else { continue }
                let scale = max(1, Double(reference.lazy.map(abs).max() ?? 0))
                for i in reference.indices {
                    statistics.add(device: device[i], reference: Double(reference[i]), scale: scale, "\(label): \(what)[\(i)]")
                }
            }
        },
    ]

    static func randomCase(_ number: Int, _ random: inout SplitMix64) throws -> CheckCase<PinnedStep> {
        let task = Int.random(in: 0..<3, using: &random) // 0: both, 1: detection, 2: segmentation
        var settings = StepSettings(lambda: random.chance(0.5) ? 1 : Float.random(in: 0...3, using: &random))
        var arrays = StepArrays()
        var what: [String] = []
        if task != 2 {
            let classes = Int.random(in: 1...9, using: &random), samples = Int.random(in: 1...400, using: &random)
            let images = Int.random(in: 1...4, using: &random)
            settings.detection = randomSettings(&random, classes: classes, softmax: false)
            arrays.detection = StepArrays.Detection(
                logits: random.floats(samples * classes, in: -20...20),
                targets: (0..<(samples * classes)).map { _ in random.chance(0.15) ? (random.chance(0.5) ? 1 : Float.random(in: 0...1, using: &random)) : 0 },
                points: (0..<samples).flatMap { _ in [Float(Int.random(in: 0..<images, using: &random)), .random(in: -10...110, using: &random), .random(in: -10...110, using: &random)] },
                boxes: (0..<Int.random(in: 0...12, using: &random)).flatMap { _ -> [Float] in
                    let x = Float.random(in: 0...90, using: &random), y = Float.random(in: 0...90, using: &random)
                    return [Float(Int.random(in: 0..<images, using: &random)), Float(Int.random(in: 1...classes, using: &random)),
                            x, y, x + .random(in: 0...30, using: &random), y + .random(in: 0...30, using: &random)]
                },
                sigma: random.chance(0.3) ? random.floats(samples * classes, in: 0...0.3) : nil,
                samples: samples, classes: classes, images: images)
            what.append("det \(samples)×\(classes)")
        }
        if task != 1 {
            let classes = Int.random(in: 2...6, using: &random), batch = Int.random(in: 1...3, using: &random)
            let height = random.awkwardSize(upTo: 40), width = random.awkwardSize(upTo: 40)
            settings.segmentation = randomSettings(&random, classes: classes, softmax: random.chance(0.5))
            let count = batch * classes * height * width
            arrays.segmentation = StepArrays.Segmentation(
                logits: random.floats(count, in: -20...20),
                labels: (0..<(batch * height * width)).map { _ in
                    random.chance(0.05) ? LabelMap.ignore : (random.chance(0.7) ? LabelMap.background : UInt8.random(in: 1...UInt8(classes), using: &random))
                },
                sigma: random.chance(0.3) ? random.floats(count, in: 0...0.3) : nil,
                batch: batch, classes: classes, height: height, width: width)
            what.append("seg \(batch)×\(classes)×\(height)×\(width)")
        }
        return CheckCase(problem: try PinnedStep(arrays, settings), label: "case \(number) (\(what.joined(separator: ", ")), λ \(settings.lambda))")
    }

    private static func randomSettings(_ random: inout SplitMix64, classes: Int, softmax: Bool) -> TaskSettings {
        var s = TaskSettings(gamma: [0, 0.5, 1, 2, 2.5][Int.random(in: 0..<5, using: &random)])
        s.refinement = random.chance(0.2) ? nil : Refinement(beta: Float(random.signedLogUniform(0.01, 2)),
                                                             delta: Float.random(in: 0...12, using: &random))
        if random.chance(0.5) { s.alpha = random.floats(classes, in: 0...4) }
        if random.chance(0.3) { s.sigma = Float.random(in: 0...0.3, using: &random) }
        if random.chance(0.2) { s.positiveFraction = Float.random(in: 0...1, using: &random) }
        if softmax { s.activation = .softmax }
        s.normalizer = [.samples, .positives, .given(Double.random(in: 1...300, using: &random))][Int.random(in: 0..<3, using: &random)]
        return s
    }

    static func benchmarkCases(scale: BenchmarkScale, onDevice: Bool) -> [BenchmarkCase<PinnedStep>] {
        let (samples, images, side) = switch scale {
        case .full: (100_000, 8, 512)
        case .quick: (10_000, 2, 128)
        case .smoke: (1_000, 1, 32)
        }
        return [BenchmarkCase(operation: name, size: "\(images)x\(side)x\(side)xC5+\(samples)xC7",
                              detail: "detection \(samples)×7 logits, \(images * 20) boxes + segmentation \(images)×5×\(side)×\(side) logits",
                              warmup: scale == .smoke ? 1 : (onDevice ? 2 : 1),
                              repeats: scale == .full ? (onDevice ? 5 : 3) : (scale == .quick ? 3 : 2)) {
            let arrays = workload(samples: samples, images: images, side: side)
            let detElements = samples * 7, segElements = images * 5 * side * side
            let bytes = 12 * detElements + 12 * samples + 24 * (arrays.detection!.boxes.count / 6)
                + 8 * segElements + images * side * side
            return BenchmarkWorkload(problem: try PinnedStep(arrays, StepSettings()), elements: detElements + segElements,
                                     bytes: bytes)
        }]
    }

    /// Every gradient the step writes (∂L/∂z of both tasks, and ∂L/∂σ where there are σ maps).
    static func benchmarkError(_ problem: PinnedStep, device: StepResult, reference: StepOutput) -> Double {
        var error = MaxAbsoluteError()
        let pairs: [(UnsafeMutableBufferPointer<Float>?, [Float]?)] = [
            (problem.gradients.detectionLogits, reference.detectionGradient),
            (problem.gradients.detectionSigma, reference.detectionSigmaGradient),
            (problem.gradients.segmentationLogits, reference.segmentationGradient),
            (problem.gradients.segmentationSigma, reference.segmentationSigmaGradient),
        ]
        for case let (device?, reference?) in pairs where !reference.isEmpty {
            error.add(device: device, reference: reference)
        }
        return error.value
    }

    /// FCOS-like anchors with one-hot targets for the boxes they fall in, blob label maps, and
    /// logits from a multiplicative hash (as the focal-loss workloads).
    static func workload(samples: Int, images: Int, side: Int) -> StepArrays {
        var random = SplitMix64(seed: UInt64(samples + side))
        var boxes: [Float] = []
        for image in 0..<images {
            for _ in 0..<20 {
                let x = Float(random.next() % UInt64(side)), y = Float(random.next() % UInt64(side))
                boxes += [Float(image), Float(1 + random.next() % 7), x, y, x + Float(4 + random.next() % UInt64(side / 4)),
                          y + Float(4 + random.next() % UInt64(side / 4))]
            }
        }
        var points: [Float] = [], targets = [Float](repeating: 0, count: samples * 7)
        for n in 0..<samples {
            let image = n * images / samples
            let x = Float(random.next() % UInt64(side)), y = Float(random.next() % UInt64(side))
            points += [Float(image), x, y]
            for m in stride(from: 0, to: boxes.count, by: 6) where Int(boxes[m]) == image
                && boxes[m + 2] <= x && x <= boxes[m + 4] && boxes[m + 3] <= y && y <= boxes[m + 5] {
                targets[n * 7 + Int(boxes[m + 1]) - 1] = 1
            }
        }
        let labels = DistanceTransformDescriptor.blobLabels(batch: images, height: side, width: side, classes: 5, seed: 3)
        return StepArrays(
            detection: .init(logits: (0..<(samples * 7)).map(FocalLossDescriptor.logit), targets: targets, points: points,
                             boxes: boxes, samples: samples, classes: 7, images: images),
            segmentation: .init(logits: (0..<(images * 5 * side * side)).map(FocalLossDescriptor.logit), labels: labels,
                                batch: images, classes: 5, height: side, width: side))
    }

    static func run(_ problem: PinnedStep, on engine: Engine) throws -> StepResult {
        try engine.step(problem.batch, problem.settings, into: problem.gradients)
    }

    static func reference(_ problem: PinnedStep) throws -> StepOutput {
        try Engine(device: .reference, environment: [:]).step(problem.arrays, problem.settings)
    }

    static func routineProblem(_ problem: PinnedStep) -> StepCall { problem.call }

    static func stageSeconds(_ prepared: StepRoutine.Prepared) -> [String: Double]? {
        Dictionary(uniqueKeysWithValues: StepRoutine.Stage.allCases.map {
            ($0.rawValue, Double(prepared.stageNanoseconds[$0] ?? 0) * 1e-9)
        })
    }
}

/// A step batch that owns its memory: copies of the inputs and the gradient buffers at stable
/// addresses for as long as it lives, so that checks and benchmarks can keep it.
final class PinnedStep: @unchecked Sendable {
    let arrays: StepArrays
    let settings: StepSettings
    let batch: StepBatch
    let gradients: StepGradients
    let call: StepCall
    private var memory: [UnsafeMutableRawBufferPointer] = []

    init(_ arrays: StepArrays, _ settings: StepSettings) throws {
        self.arrays = arrays
        self.settings = settings
        var memory: [UnsafeMutableRawBufferPointer] = []
        func pin<T>(_ values: [T]) -> UnsafeBufferPointer<T> {
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(values.count, 1))
            _ = buffer.initialize(from: values)
            memory.append(UnsafeMutableRawBufferPointer(buffer))
            return UnsafeBufferPointer(rebasing: buffer[0..<values.count])
        }
        func output(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
            buffer.initialize(repeating: 0)
            memory.append(UnsafeMutableRawBufferPointer(buffer))
            return UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
        }
        var batch = StepBatch()
        var gradients = StepGradients()
        if let d = arrays.detection {
            batch.detection = StepBatch.Detection(logits: pin(d.logits), targets: pin(d.targets), points: pin(d.points),
                                                  boxes: pin(d.boxes), sigma: d.sigma.map { pin($0) }, samples: d.samples,
                                                  classes: d.classes, images: d.images)
            gradients.detectionLogits = output(d.logits.count)
            gradients.detectionSigma = d.sigma.map { output($0.count) }
        }
        if let s = arrays.segmentation {
            batch.segmentation = StepBatch.Segmentation(logits: pin(s.logits), labels: pin(s.labels), sigma: s.sigma.map { pin($0) },
                                                        batch: s.batch, classes: s.classes, height: s.height, width: s.width)
            gradients.segmentationLogits = output(s.logits.count)
            gradients.segmentationSigma = s.sigma.map { output($0.count) }
        }
        self.batch = batch
        self.gradients = gradients
        self.memory = memory
        call = try StepCall(batch, settings, into: gradients)
    }

    deinit { for buffer in memory { buffer.deallocate() } }
}
