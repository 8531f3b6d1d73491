/// `reg check` for the focal loss: random cases over every setting (layout, activation, γ, α, the
/// torchvision split, spatial weight, σ, reduction), logits in ±30 with some ±1e4, soft targets and
/// ignore labels, device against `FocalLossReference`.
///
/// Two entries share the cases, because the SPEC gives the two quantities different tolerances:
/// `focal-loss` judges the loss value and the raw sum (relative ≤ 1e-5) and the count (exact);
/// `focal-loss-gradient` judges ∂L/∂z and ∂L/∂σ (|Δ| ≤ 1e-5 · max(1, max|reference|) per case).
enum FocalLossCheck {
    static let valueTolerance = ElementTolerance(relative: 1e-5, quantity: "loss")
    static let gradientTolerance = ElementTolerance(absolute: 1e-5, quantity: "∂L/∂z, ∂L/∂σ",
                                                    absoluteScale: "max(1, max|ref|)")

    static func values(device: Engine, cases: Int, seed: UInt64) throws -> CheckOutcome {
        var statistics = ErrorStatistics(tolerance: valueTolerance)
        try compare(device: device, cases: cases, seed: seed) { label, onDevice, expected in
            statistics.add(device: onDevice.loss, reference: expected.loss, "\(label): loss")
            statistics.add(device: Float(onDevice.sum), reference: expected.sum, "\(label): sum")
            if onDevice.count != expected.count {
                statistics.reject("\(label): count \(onDevice.count), reference \(expected.count)")
            }
        }
        return CheckOutcome(cases: cases, statistics)
    }

    static func gradients(device: Engine, cases: Int, seed: UInt64) throws -> CheckOutcome {
        var statistics = ErrorStatistics(tolerance: gradientTolerance)
        try compare(device: device, cases: cases, seed: seed) { label, onDevice, expected in
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
        }
        return CheckOutcome(cases: cases, statistics)
    }

    /// Draws `cases` cases from `seed`, evaluates each on the device and the reference, and hands
    /// both results to `judge`.
    private static func compare(device: Engine, cases: Int, seed: UInt64,
                                _ judge: (String, FocalLossResult<Float>, FocalLossResult<Double>) -> Void) throws {
        var random = CaseGenerator(seed: seed)
        for number in 0..<cases {
            let segmentation = random.chance(0.5)
            let classes = segmentation ? Int.random(in: 2...7, using: &random) : Int.random(in: 1...9, using: &random)
            var settings = FocalLoss(gamma: [0, 0.5, 1, 2, 2.5, 3][Int.random(in: 0..<6, using: &random)])
            if segmentation && random.chance(0.5) { settings.activation = .softmax }
            if random.chance(0.5) { settings.alpha = (0..<classes).map { _ in Float.random(in: 0...4, using: &random) } }
            if random.chance(0.25) { settings.positiveFraction = Float.random(in: 0...1, using: &random) }
            if random.chance(0.3) { settings.reduction = random.chance(0.5) ? .sum : .none }
            if random.chance(0.2) { settings.gradientScale = Float.random(in: -3...3, using: &random) }

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

            let label: String
            let onDevice: FocalLossResult<Float>
            let expected: FocalLossResult<Double>
            if segmentation {
                let labels = (0..<(batch * height * width)).map { _ in
                    random.chance(0.1) ? UInt8(255) : UInt8.random(in: 0...UInt8(classes), using: &random)
                }
                label = "case \(number) (segmentation \(batch)×\(classes)×\(height)×\(width), \(settings.activation), γ \(settings.gamma))"
                onDevice = try device.focalLoss(segmentation: logits, labels: labels, batch: batch, classes: classes,
                                                height: height, width: width, settings)
                expected = try FocalLossReference.focalLoss(segmentation: logits, labels: labels, batch: batch,
                                                            classes: classes, height: height, width: width, settings)
            } else {
                let soft = random.chance(0.5)
                let targets = (0..<count).map { _ in
                    soft ? Float.random(in: 0...1, using: &random) : (random.chance(0.2) ? Float(1) : 0)
                }
                label = "case \(number) (detection \(samples)×\(classes), γ \(settings.gamma))"
                onDevice = try device.focalLoss(detection: logits, targets: targets, samples: samples, classes: classes, settings)
                expected = try FocalLossReference.focalLoss(detection: logits, targets: targets, samples: samples,
                                                            classes: classes, settings)
            }
            judge(label, onDevice, expected)
        }
    }
}
