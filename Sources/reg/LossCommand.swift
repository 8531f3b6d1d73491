import ArgumentParser
import Foundation
import REG
import REGNumPy

/// The focal loss and its gradient, through files.
struct LossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loss",
        abstract: "Refined generalized focal loss and ∂L/∂logits of .npy arrays.",
        discussion: """
            Detection: LOGITS (N, C) with --targets (N, C) in [0, 1] (soft targets allowed). \
            Segmentation: LOGITS (B, C, H, W) with --labels (B, H, W): 0 background, 1…C classes, \
            255 ignore. --distances or --weights have the shape of LOGITS; so has --sigma-map. \
            LOGITS and --targets may be float16 (<f2): computed in float32, gradients float16 unless \
            --gradient-dtype f32. Prints the loss, the raw sum, the count N_task and the device.
            """)

    enum Weighting: String, ExpressibleByArgument, CaseIterable {
        case inverse, balanced, normalized

        var scheme: ClassWeights.Scheme {
            switch self {
            case .inverse: .inverseFrequency
            case .balanced: .balanced
            case .normalized: .normalized
            }
        }
    }

    @Option(help: ArgumentHelp("Logits (.npy): (N, C) or (B, C, H, W).", valueName: "logits"))
    var logits: String

    @Option(help: ArgumentHelp("Detection targets (.npy, (N, C)).", valueName: "targets"))
    var targets: String?

    @Option(help: ArgumentHelp("Segmentation labels (.npy, (B, H, W)).", valueName: "labels"))
    var labels: String?

    @Option(help: ArgumentHelp("Distances d (.npy, shape of the logits); needs --beta and --delta.", valueName: "distances"))
    var distances: String?

    @Option(parsing: .unconditional, help: "Refinement sharpness β (with --distances).")
    var beta: Float?

    @Option(parsing: .unconditional, help: "Refinement threshold δ in pixels (with --distances).")
    var delta: Float?

    @Option(help: ArgumentHelp("Precomputed spatial weights g (.npy, shape of the logits).", valueName: "weights"))
    var weights: String?

    // `.unconditional` on the numeric options: a value may start with a minus sign, and is then
    // parsed and refused by validate() with the value named (`--gamma: must be ≥ 0, got -1`)
    // rather than taken for an option ("Missing value for '--gamma'").
    @Option(parsing: .unconditional, help: ArgumentHelp("Per-class α, comma-separated.", valueName: "a1,a2,…"))
    var alpha: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Per-class annotation counts (positive whole numbers), comma-separated: α from --weighting.", valueName: "n1,n2,…"))
    var counts: String?

    @Option(help: "How counts become α: inverse (N_total/N_c), balanced (N_total/(C·N_c)), normalized (Σα = 1).")
    var weighting: Weighting = .inverse

    @Option(parsing: .unconditional, help: "Focusing parameter γ ≥ 0.")
    var gamma: Float = 2

    @Option(name: .customLong("pos-fraction"), parsing: .unconditional, help: "torchvision's split a ∈ [0, 1] (off by default).")
    var positiveFraction: Float?

    @Option(parsing: .unconditional, help: "Uncertainty σ ≥ 0 for every element.")
    var sigma: Float?

    @Option(name: .customLong("sigma-map"), help: ArgumentHelp("Uncertainty σ per element (.npy, shape of the logits).", valueName: "sigma-map"))
    var sigmaMap: String?

    @Option(help: "sigmoid (default) or softmax over the classes of each pixel (segmentation).")
    var activation: FocalLoss.Activation = .sigmoid

    @Option(help: "mean (Σℓ / M, M from --normalizer), sum, or none (per-element loss, see --loss-out).")
    var reduction: FocalLoss.Reduction = .mean

    @Option(parsing: .unconditional, help: "M of the mean: samples (detection samples or non-ignored pixels), positives (those with a target > 0 or a class label, at least 1), or a number M > 0.")
    var normalizer: FocalLoss.Normalizer = .samples

    @Option(name: .customLong("grad-out"), help: ArgumentHelp("Write ∂L/∂logits here (.npy, float32 or float16: see --gradient-dtype).", valueName: "file"))
    var gradientOutput: String?

    @Option(name: .customLong("sigma-grad-out"), help: ArgumentHelp("Write ∂L/∂σ here (.npy, the gradient's type; with --sigma-map).", valueName: "file"))
    var sigmaGradientOutput: String?

    @Option(name: .customLong("gradient-dtype"),
            help: ArgumentHelp("f32 or f16: the gradients' element type (f16: rounded to nearest even). Default: the logits' type.", valueName: "dtype"))
    var gradientDType: StepCommand.GradientDType?

    @Option(name: .customLong("loss-out"), help: ArgumentHelp("Write the per-element loss here (.npy, float32; with --reduction none).", valueName: "file"))
    var lossOutput: String?

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        guard (targets == nil) != (labels == nil) else {
            throw ValidationError("give exactly one of --targets (detection) and --labels (segmentation)")
        }
        if distances != nil && weights != nil { throw ValidationError("give --distances or --weights, not both") }
        if distances != nil && (beta == nil || delta == nil) {
            throw ValidationError("--distances needs --beta and --delta")
        }
        if distances == nil && (beta != nil || delta != nil) {
            throw ValidationError("--beta and --delta refine --distances; give --distances too")
        }
        if alpha != nil && counts != nil { throw ValidationError("give --alpha or --counts, not both") }
        if sigma != nil && sigmaMap != nil { throw ValidationError("give --sigma or --sigma-map, not both") }
        if sigmaGradientOutput != nil && sigmaMap == nil {
            throw ValidationError("--sigma-grad-out writes the per-element ∂L/∂σ of --sigma-map")
        }
        if lossOutput != nil && reduction != .none {
            throw ValidationError("--loss-out writes the per-element loss of --reduction none")
        }
        try requireNonNegative(gamma, "--gamma")
        if let beta { try requireFinite(beta, "--beta") }
        if let delta { try requireFinite(delta, "--delta") }
        if let positiveFraction {
            try requireFinite(positiveFraction, "--pos-fraction")
            guard positiveFraction >= 0 && positiveFraction <= 1 else {
                throw ValidationError("--pos-fraction: must be in [0, 1], got \(shown(positiveFraction))")
            }
        }
        if let sigma {
            try requireNonNegative(sigma, "--sigma")
            guard sigma <= FocalLoss.maximumSigma else {
                throw ValidationError("--sigma: must be at most \(shown(FocalLoss.maximumSigma)), got \(shown(sigma))")
            }
        }
        if let alpha {
            let values: [Float] = try parseList(alpha, option: "--alpha")
            if let c = values.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
                throw ValidationError("--alpha: entry \(c) must be finite and ≥ 0, got \(shown(values[c]))")
            }
        }
        if let counts { _ = try parseCounts(counts, option: "--counts") }
    }

    func run() throws {
        let outputs = try OutputFiles(gradientOutput, sigmaGradientOutput, lossOutput)
        let logitArray = try ArrayFiles.read(logits)
        var sources = ArgumentSources(
            files: ["logits": logits],
            options: ["gamma": "--gamma", "alpha": alpha == nil ? "--counts" : "--alpha", "counts": "--counts",
                      "positiveFraction": "--pos-fraction", "sigma": "--sigma",
                      "activation": "--activation", "beta": "--beta", "delta": "--delta", "classes": "logits' class axis",
                      "normalizer": "--normalizer"])
        let shape = logitArray.shape
        try ArrayFiles.requireRank(logitArray, targets != nil ? [2] : [4], "logits")
        let classes = shape[1]

        var settings = FocalLoss(activation: activation, positiveFraction: positiveFraction, gamma: gamma,
                                 reduction: reduction, normalizer: normalizer)
        if let alpha { settings.alpha = try parseList(alpha, option: "--alpha") }
        if let counts {
            settings.alpha = try sources.run { try ClassWeights.alpha(counts: try parseList(counts, option: "--counts"), weighting.scheme) }
        }
        if let distances {
            sources.files["distances"] = distances
            settings.spatial = .distances(try Self.values(distances, shape: shape), Refinement(beta: beta!, delta: delta!))
        } else if let weights {
            sources.files["weights"] = weights
            settings.spatial = .weights(try Self.values(weights, shape: shape))
        }
        if let sigma { settings.uncertainty = .scalar(sigma) }
        if let sigmaMap {
            sources.files["sigma"] = sigmaMap
            settings.uncertainty = .perElement(try Self.values(sigmaMap, shape: shape))
        }

        let engine = try deviceOption.engine()
        let values = try logitArray.floats()
        let halfLogits: [Float16]? = if case .float16(let halves) = logitArray.storage { halves } else { nil }
        let precision = gradientDType?.precision ?? (halfLogits != nil ? .float16 : .float32)
        let result: FocalLossResult<Float>
        if let targets {
            sources.files["targets"] = targets
            let targetArray = try ArrayFiles.read(targets)
            guard targetArray.shape == shape else {
                throw InputError("\(targets): shape \(targetArray.shape) does not match the logits' \(shape)")
            }
            let targetValues = try targetArray.floats()
            result = try sources.run {
                if let halfLogits, case .float16(let halfTargets) = targetArray.storage {
                    try engine.focalLoss(detection: halfLogits, targets: halfTargets, samples: shape[0], classes: classes,
                                         settings, gradient: precision)
                } else {
                    // Float32 (or mixed, widened exactly: what the kernels do with halves).
                    try engine.focalLoss(detection: values, targets: targetValues, samples: shape[0], classes: classes,
                                         settings, gradient: precision)
                }
            }
        } else {
            let labelArray = try ArrayFiles.read(labels!)
            sources.files["labels"] = labels!
            guard labelArray.shape == [shape[0], shape[2], shape[3]] else {
                throw InputError("\(labels!): shape \(labelArray.shape) does not match the logits' (B, H, W) = \([shape[0], shape[2], shape[3]])")
            }
            let labelValues = try labelArray.int32s()
            result = try sources.run {
                if let halfLogits, labelValues.allSatisfy({ (0...255).contains($0) }) {
                    try engine.focalLoss(segmentation: halfLogits, labels: labelValues.map { UInt8($0) }, batch: shape[0],
                                         classes: classes, height: shape[2], width: shape[3], settings, gradient: precision)
                } else {
                    // (A label outside 0…255 is named by the Int32 form.)
                    try engine.focalLoss(segmentation: values, labels: labelValues, batch: shape[0], classes: classes,
                                         height: shape[2], width: shape[3], settings)
                }
            }
        }

        // float16 gradients: the float32 ones rounded to nearest even (those the engine wrote as
        // float16 already are halves, kept exactly).
        func gradientArray(_ values: [Float]) throws -> NumPyArray {
            precision == .float16 ? try NumPyArray(shape: shape, float16: values.map { Float16($0) })
                                  : try NumPyArray(shape: shape, float32: values)
        }
        var files: [(path: String, array: NumPyArray)] = []
        if let gradientOutput { files.append((gradientOutput, try gradientArray(result.gradient))) }
        if let sigmaGradientOutput, let sigmaGradient = result.sigmaGradient {
            files.append((sigmaGradientOutput, try gradientArray(sigmaGradient)))
        }
        if let lossOutput, let elementLoss = result.elementLoss {
            files.append((lossOutput, try NumPyArray(shape: shape, float32: elementLoss)))
        }
        try outputs.write(files)
        try report(result)
    }

    /// The result, and the backend that computed it (the reference after a fallback, or when a
    /// float32 overflow was recomputed there).
    private func report(_ result: FocalLossResult<Float>) throws {
        let reductionName = reduction == .mean ? "mean over \(normalizer)" : reduction.rawValue
        if json {
            let summary = Summary(loss: result.exactLoss, sum: result.sum, count: result.count,
                                  positives: result.positives, reduction: reduction.rawValue,
                                  normalizer: reduction == .mean ? "\(normalizer)" : nil, device: "\(result.backend)",
                                  sigmaGradient: result.scalarSigmaGradient.map(Double.init))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            // A loss past float32's range is "inf" rather than an encoding error.
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            return
        }
        print("loss (\(reductionName)): \(result.exactLoss)")
        print("sum: \(result.sum)   count: \(result.count)   positives: \(result.positives)")
        if let scalar = result.scalarSigmaGradient { print("∂L/∂σ: \(scalar)") }
        print("device: \(result.backend)")
    }

    /// A float array that must have the logits' shape.
    static func values(_ path: String, shape: [Int]) throws -> [Float] {
        let array = try ArrayFiles.read(path)
        guard array.shape == shape else {
            throw InputError("\(path): shape \(array.shape) does not match the logits' \(shape)")
        }
        return try array.floats()
    }

    private struct Summary: Encodable {
        let loss: Double
        let sum: Double
        let count: Int
        let positives: Int
        let reduction: String
        /// M of the mean: "samples", "positives" or the number.
        let normalizer: String?
        let device: String
        /// ∂L/∂σ for a scalar --sigma.
        let sigmaGradient: Double?
    }
}

extension FocalLoss.Activation: ExpressibleByArgument {}
extension FocalLoss.Reduction: ExpressibleByArgument {}
