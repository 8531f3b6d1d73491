import ArgumentParser
import Foundation
import REG
import REGNumPy

/// One training step of the joint loss, through a `.npz` batch and a `.npz` of gradients.
struct StepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "One training step: L_total = L_det + λ·L_seg and its gradients, from a .npz batch.",
        discussion: """
            BATCH (.npz, as np.savez or np.savez_compressed write it) holds the arrays by name. \
            Detection: det_logits (N, C), det_targets (N, C) in [0, 1], det_points (N, 3) rows \
            (image, x, y), det_boxes (M, 6) rows (image, class 1…C, x1, y1, x2, y2); optional \
            det_sigma (N, C) and det_images (a scalar: how many images; default 1 + the largest image \
            index, or B when that is larger). Segmentation: seg_logits (B, C, H, W), seg_labels \
            (B, H, W) integers (0 background, 1…C classes, 255 ignore); optional seg_sigma \
            (B, C, H, W). Either task may be absent. The distances of the refinement are computed \
            inside the step: point-to-box for detection, the per-class EDT for segmentation. Logits, \
            targets and σ maps may be float16 (<f2): read as float16, computed in float32.
            """)

    @Argument(help: ArgumentHelp("The batch (.npz; - for standard input).", valueName: "batch"))
    var batch: String

    @Option(name: .short, help: ArgumentHelp("Write the gradients here (.npz, float32 or float16: see --gradient-dtype): det_logits_grad, seg_logits_grad, and det_sigma_grad, seg_sigma_grad where the batch has σ maps.", valueName: "grads"))
    var output: String?

    @Option(name: .customLong("gradient-dtype"),
            help: ArgumentHelp("f32 or f16: the gradients' element type (f16: rounded to nearest even). Default: each task's logits' type.", valueName: "dtype"))
    var gradientDType: GradientDType?

    @Option(parsing: .unconditional, help: "λ of L_total = L_det + λ·L_seg (finite).")
    var lambda: Float = 1

    @OptionGroup(title: "Detection loss")
    var detection: TaskOptions<DetectionTask>

    @OptionGroup(title: "Segmentation loss")
    var segmentation: TaskOptions<SegmentationTask>

    @OptionGroup(title: "Segmentation loss")
    var segmentationActivation: SegmentationActivation

    @Option(name: .customLong("memory-budget"), parsing: .unconditional,
            help: ArgumentHelp("Device bytes one chunk of the batch may use (default: half the device's memory); a larger batch is split.", valueName: "bytes"))
    var memoryBudget: Int?

    @Flag(name: .customLong("no-validation"), help: "Skip the host's scan of every element before the kernels (the kernels still flag bad elements).")
    var noValidation = false

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var deviceOption: DeviceOption

    @Option(help: ArgumentHelp("Split the batch across these devices, comma-separated (indices, names or reference; e.g. 0,1 with POCL_DEVICES=\"pthread pthread\"); sums and counts are combined exactly.", valueName: "d1,d2,…"))
    var devices: String?

    func validate() throws {
        if devices != nil && deviceOption.device != nil { throw ValidationError("give --device or --devices, not both") }
        try requireFinite(lambda, "--lambda")
        if let memoryBudget { try requireAtLeast(memoryBudget, 1, "--memory-budget") }
    }

    func run() throws {
        _ = try OutputFiles(output) // checked before anything is read or computed
        let archive = batch == "-"
            ? try NumPyArchive(fileDescriptor: 0, source: ArrayFiles.standardInput)
            : try NumPyArchive(contentsOf: URL(fileURLWithPath: batch))
        let input = try StepInput(archive, detectionNeedsGeometry: !detection.noRefinement)

        var sources = ArgumentSources(options: ["lambda": "--lambda", "memoryBudget": "--memory-budget",
                                                "seg_activation": "--seg-activation"])
        for (name, array) in input.files { sources.files[name] = array }
        var settings = StepSettings(lambda: lambda, validatesElements: !noValidation, memoryBudget: memoryBudget)
        if let d = input.arrays.detection {
            try detection.refuseScalarSigma(besideMap: d.sigma != nil, in: archive)
            settings.detection = try detection.settings(into: &sources)
        }
        if let s = input.arrays.segmentation {
            try segmentation.refuseScalarSigma(besideMap: s.sigma != nil, in: archive)
            settings.segmentation = try segmentation.settings(into: &sources)
            settings.segmentation.activation = segmentationActivation.activation
        }

        let arrays = input.arrays
        // Each task's gradient type: --gradient-dtype, else its logits' (float16 logits: float16 gradients).
        let detPrecision = gradientDType?.precision ?? (input.halves["det_logits"] != nil ? .float16 : .float32)
        let segPrecision = gradientDType?.precision ?? (input.halves["seg_logits"] != nil ? .float16 : .float32)
        let typed = TypedStep(input, detection: detPrecision, segmentation: segPrecision)
        let result: StepResult
        if let devices {
            let requests = devices.split(separator: ",").map { DeviceRequest(parsing: String($0)) }
            let group: EngineGroup
            do {
                group = try EngineGroup(devices: requests)
            } catch let error as DeviceSelectionError {
                throw ValidationError("--devices: \(error)")
            }
            result = try sources.run { try group.step(typed.batch, settings, into: typed.gradients) }
        } else {
            let engine = try deviceOption.engine()
            result = try sources.run { try engine.step(typed.batch, settings, into: typed.gradients) }
        }

        if let output {
            var grads = NumPyArchive()
            if let d = arrays.detection {
                let shape = [d.samples, d.classes]
                grads["det_logits_grad"] = try typed.array(typed.gradients.detectionLogitsView, shape)
                if d.sigma != nil { grads["det_sigma_grad"] = try typed.array(typed.gradients.detectionSigmaView, shape) }
            }
            if let s = arrays.segmentation {
                let shape = [s.batch, s.classes, s.height, s.width]
                grads["seg_logits_grad"] = try typed.array(typed.gradients.segmentationLogitsView, shape)
                if s.sigma != nil { grads["seg_sigma_grad"] = try typed.array(typed.gradients.segmentationSigmaView, shape) }
            }
            try grads.write(toPath: output)
        }
        try report(result)
    }

    /// `--gradient-dtype`: f32 (float32) or f16 (float16).
    enum GradientDType: String, ExpressibleByArgument, CaseIterable {
        case f32, f16

        init?(argument: String) {
            switch argument {
            case "f32", "float32", "<f4": self = .f32
            case "f16", "float16", "<f2": self = .f16
            default: return nil
            }
        }

        var precision: FloatPrecision { self == .f16 ? .float16 : .float32 }
    }

    /// The batch in memory of its own, as the step's views: float16 members as float16 (the rest
    /// float32), and gradient buffers of each task's type. Released with it.
    private final class TypedStep {
        private(set) var batch = StepBatch()
        private(set) var gradients = StepGradients()
        private var memory: [UnsafeMutableRawBufferPointer] = []

        init(_ input: StepInput, detection: FloatPrecision, segmentation: FloatPrecision) {
            func view(_ floats: [Float], _ name: String) -> FloatView {
                if let halves = input.halves[name] { return .float16(UnsafeBufferPointer(pin(halves))) }
                return .float32(UnsafeBufferPointer(pin(floats)))
            }
            func output(_ count: Int, _ precision: FloatPrecision) -> MutableFloatView {
                precision == .float16 ? .float16(pin([Float16](repeating: 0, count: count)))
                                      : .float32(pin([Float](repeating: 0, count: count)))
            }
            if let d = input.arrays.detection {
                batch.detection = StepBatch.Detection(
                    logits: view(d.logits, "det_logits"), targets: view(d.targets, "det_targets"),
                    points: UnsafeBufferPointer(pin(d.points)), boxes: UnsafeBufferPointer(pin(d.boxes)),
                    sigma: d.sigma.map { view($0, "det_sigma") }, samples: d.samples, classes: d.classes, images: d.images)
                gradients.detectionLogitsView = output(d.logits.count, detection)
                gradients.detectionSigmaView = d.sigma.map { output($0.count, detection) }
            }
            if let s = input.arrays.segmentation {
                batch.segmentation = StepBatch.Segmentation(
                    logits: view(s.logits, "seg_logits"), labels: UnsafeBufferPointer(pin(s.labels)),
                    sigma: s.sigma.map { view($0, "seg_sigma") }, batch: s.batch, classes: s.classes, height: s.height,
                    width: s.width)
                gradients.segmentationLogitsView = output(s.logits.count, segmentation)
                gradients.segmentationSigmaView = s.sigma.map { output($0.count, segmentation) }
            }
        }

        deinit { for buffer in memory { buffer.deallocate() } }

        private func pin<T>(_ values: [T]) -> UnsafeMutableBufferPointer<T> {
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(values.count, 1))
            _ = buffer.initialize(from: values)
            memory.append(UnsafeMutableRawBufferPointer(buffer))
            return UnsafeMutableBufferPointer(rebasing: buffer[0..<values.count])
        }

        /// A gradient as an array of its own type.
        func array(_ view: MutableFloatView?, _ shape: [Int]) throws -> NumPyArray {
            guard let view else { preconditionFailure("every gradient of the batch has a buffer") }
            switch view {
            case .float16(let values): return try NumPyArray(shape: shape, float16: Array(values))
            case .float32(let values): return try NumPyArray(shape: shape, float32: Array(values))
            }
        }
    }

    private func report(_ result: StepResult) throws {
        if json {
            let summary = Summary(total: result.total, device: "\(result.backend)",
                                  det: result.detection.map(TaskSummary.init), seg: result.segmentation.map(TaskSummary.init))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            return
        }
        print("total (L_det + λ·L_seg, λ = \(shown(lambda))): \(result.total)")
        for (name, task, normalizer) in [("det", result.detection, detection.normalizer),
                                         ("seg", result.segmentation, segmentation.normalizer)] {
            guard let task else { continue }
            var line = "\(name): loss \(task.loss) (mean over \(normalizer), M = \(task.divisor))   sum \(task.sum)   "
                + "count \(task.count)   positives \(task.positives)"
            if let sigmaGradient = task.sigmaGradient { line += "   ∂L/∂σ \(sigmaGradient)" }
            print(line)
        }
        print("device: \(result.backend)")
    }

    private struct Summary: Encodable {
        let total: Double
        let device: String
        let det: TaskSummary?
        let seg: TaskSummary?
    }

    private struct TaskSummary: Encodable {
        let loss: Double
        let sum: Double
        let count: Int
        let positives: Int
        /// M of the task's mean.
        let divisor: Double
        /// Σ ∂L_total/∂σ for a scalar --det-sigma / --seg-sigma.
        let sigmaGradient: Double?

        init(_ result: TaskResult) {
            loss = result.loss
            sum = result.sum
            count = result.count
            positives = result.positives
            divisor = result.divisor
            sigmaGradient = result.sigmaGradient
        }
    }
}

// MARK: Options of one task

/// The prefix of one task's options and of its arrays: `det` or `seg`.
protocol StepTask {
    static var prefix: String { get }
    static var name: String { get }
}

enum DetectionTask: StepTask {
    static let prefix = "det"
    static let name = "detection"
}

enum SegmentationTask: StepTask {
    static let prefix = "seg"
    static let name = "segmentation"
}

/// `--det-gamma`, `--seg-alpha`, …: the loss settings of one task. The numeric options take values
/// that start with a minus sign (`.unconditional`), so that validate() names them.
struct TaskOptions<Task: StepTask>: ParsableArguments {
    @Option(name: .customLong("\(Task.prefix)-alpha"), parsing: .unconditional,
            help: ArgumentHelp("Per-class α of the \(Task.name) loss, comma-separated.", valueName: "a1,a2,…"))
    var alpha: String?

    @Option(name: .customLong("\(Task.prefix)-counts"), parsing: .unconditional,
            help: ArgumentHelp("Per-class annotation counts (positive whole numbers): α from --\(Task.prefix)-weighting.", valueName: "n1,n2,…"))
    var counts: String?

    @Option(name: .customLong("\(Task.prefix)-weighting"),
            help: "How counts become α: inverse (N_total/N_c), balanced (N_total/(C·N_c)), normalized (Σα = 1).")
    var weighting: LossCommand.Weighting = .inverse

    @Option(name: .customLong("\(Task.prefix)-gamma"), parsing: .unconditional, help: "Focusing parameter γ ≥ 0.")
    var gamma: Float = 2

    @Option(name: .customLong("\(Task.prefix)-beta"), parsing: .unconditional,
            help: "Refinement sharpness β of g = σ(β(d − δ)) (default 0.5).")
    var beta: Float?

    @Option(name: .customLong("\(Task.prefix)-delta"), parsing: .unconditional,
            help: "Refinement threshold δ in pixels (default 8).")
    var delta: Float?

    @Flag(name: .customLong("\(Task.prefix)-no-refinement"), help: "No refinement (g ≡ 1).")
    var noRefinement = false

    @Option(name: .customLong("\(Task.prefix)-sigma"), parsing: .unconditional,
            help: "Uncertainty σ in [0, 10⁶] for every element (\(Task.prefix)_sigma in the batch gives one per element).")
    var sigma: Float?

    @Option(name: .customLong("\(Task.prefix)-pos-fraction"), parsing: .unconditional,
            help: "torchvision's split a ∈ [0, 1] (off by default).")
    var positiveFraction: Float?

    @Option(name: .customLong("\(Task.prefix)-normalizer"), parsing: .unconditional,
            help: "M of the mean: samples, positives, or a number M > 0.")
    var normalizer: FocalLoss.Normalizer = .samples

    private func option(_ name: String) -> String { "--\(Task.prefix)-\(name)" }

    func validate() throws {
        if alpha != nil && counts != nil { throw ValidationError("give \(option("alpha")) or \(option("counts")), not both") }
        try requireNonNegative(gamma, option("gamma"))
        if let beta { try requireFinite(beta, option("beta")) }
        if let delta { try requireFinite(delta, option("delta")) }
        if noRefinement && (beta != nil || delta != nil) {
            throw ValidationError("\(beta != nil ? option("beta") : option("delta")) sets the refinement that \(option("no-refinement")) turns off; give one or the other")
        }
        if let sigma {
            try requireNonNegative(sigma, option("sigma"))
            guard sigma <= FocalLoss.maximumSigma else {
                throw ValidationError("\(option("sigma")): must be at most \(shown(FocalLoss.maximumSigma)), got \(shown(sigma))")
            }
        }
        if let positiveFraction {
            try requireFinite(positiveFraction, option("pos-fraction"))
            guard positiveFraction >= 0 && positiveFraction <= 1 else {
                throw ValidationError("\(option("pos-fraction")): must be in [0, 1], got \(shown(positiveFraction))")
            }
        }
        if case .given(let m) = normalizer, !(m.isFinite && m > 0) {
            throw ValidationError("\(option("normalizer")): a given M must be finite and > 0, got \(m)")
        }
        if let alpha {
            let values: [Float] = try parseList(alpha, option: option("alpha"))
            if let c = values.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
                throw ValidationError("\(option("alpha")): entry \(c) must be finite and ≥ 0, got \(shown(values[c]))")
            }
        }
        if let counts { _ = try parseCounts(counts, option: option("counts")) }
    }

    /// A scalar σ option beside a σ map in the batch is ambiguous: refused.
    func refuseScalarSigma(besideMap hasMap: Bool, in archive: NumPyArchive) throws {
        guard hasMap, sigma != nil else { return }
        let map = NumPyArchive.memberSource(archive: archive.source, name: "\(Task.prefix)_sigma")
        throw ValidationError("\(option("sigma")): the batch gives a σ per element (\(map)); give one or the other")
    }

    /// The task's settings; registers where its argument names came from.
    func settings(into sources: inout ArgumentSources) throws -> TaskSettings {
        let p = Task.prefix
        for (name, flag) in [("gamma", "gamma"), ("beta", "beta"), ("delta", "delta"), ("pos_fraction", "pos-fraction"),
                             ("normalizer", "normalizer"), ("sigma", "sigma"), ("activation", "activation")] {
            sources.options["\(p)_\(name)"] = option(flag)
        }
        sources.options["\(p)_alpha"] = option(counts != nil ? "counts" : "alpha")
        var settings = TaskSettings(gamma: gamma, refinement: noRefinement ? nil : Refinement(beta: beta ?? 0.5, delta: delta ?? 8),
                                    sigma: sigma ?? 0, positiveFraction: positiveFraction, normalizer: normalizer)
        if let alpha { settings.alpha = try parseList(alpha, option: option("alpha")) }
        if let counts {
            let values = try parseCounts(counts, option: option("counts"))
            settings.alpha = try ArgumentSources(options: ["counts": option("counts")]).run {
                try ClassWeights.alpha(counts: values, weighting.scheme)
            }
        }
        return settings
    }
}

/// `--seg-activation`: segmentation only (detection is multi-label, always sigmoid).
struct SegmentationActivation: ParsableArguments {
    @Option(name: .customLong("seg-activation"), help: "sigmoid, or softmax over the classes of each pixel (C ≥ 2).")
    var activation: FocalLoss.Activation = .sigmoid
}

// MARK: The batch

/// A `reg step` batch read from a `.npz`: the arrays as the step takes them, and the member each
/// argument name came from (`det_logits` → `b.npz:det_logits`).
struct StepInput {
    static let detectionRequired = ["det_logits", "det_targets", "det_points", "det_boxes"]
    static let detectionOptional = ["det_sigma", "det_images"]
    static let segmentationRequired = ["seg_logits", "seg_labels"]
    static let segmentationOptional = ["seg_sigma"]
    static var known: [String] { detectionRequired + detectionOptional + segmentationRequired + segmentationOptional }

    var arrays = StepArrays()
    /// Step argument name → the member it was read from, as errors name it.
    var files: [String: String] = [:]
    /// The float16 members among the logits, targets and σ maps, as they are (`arrays` holds their
    /// float32 values, for shapes and host checks).
    var halves: [String: [Float16]] = [:]

    /// `detectionNeedsGeometry`: points and boxes are read (refinement on); without refinement
    /// they may be left out.
    init(_ archive: NumPyArchive, detectionNeedsGeometry: Bool) throws {
        let place = archive.source ?? "batch"
        let unknown = archive.names.filter { !Self.known.contains($0) }
        guard unknown.isEmpty else {
            throw InputError("\(place): unknown array\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", ")); a batch holds \(Self.known.joined(separator: ", "))")
        }
        func task(_ required: [String], _ optional: [String], _ name: String, _ optionalWhen: [String] = []) throws -> Bool {
            let present = (required + optional).filter { archive[$0] != nil }
            guard !present.isEmpty else { return false }
            let missing = required.filter { archive[$0] == nil && !optionalWhen.contains($0) }
            guard missing.isEmpty else {
                throw InputError("\(place): the \(name) task needs \(missing.joined(separator: ", ")) beside \(present.joined(separator: ", "))")
            }
            return true
        }
        let hasDetection = try task(Self.detectionRequired, Self.detectionOptional, "detection",
                                    detectionNeedsGeometry ? [] : ["det_points", "det_boxes"])
        let hasSegmentation = try task(Self.segmentationRequired, Self.segmentationOptional, "segmentation")
        guard hasDetection || hasSegmentation else {
            throw InputError("\(place): holds no task: give det_logits, det_targets, det_points, det_boxes (detection) or seg_logits, seg_labels (segmentation)")
        }
        for name in Self.known where archive[name] != nil {
            files[name] = archive[name]!.source ?? NumPyArchive.memberSource(archive: archive.source, name: name)
        }
        for name in ["det_logits", "det_targets", "det_sigma", "seg_logits", "seg_sigma"] {
            if case .float16(let values)? = archive[name]?.storage { halves[name] = values }
        }

        if hasSegmentation {
            let logits = try archive.array("seg_logits")
            try Self.requireRank(logits, 4, "(B, C, H, W)")
            let (b, c, h, w) = (logits.shape[0], logits.shape[1], logits.shape[2], logits.shape[3])
            let labels = try archive.array("seg_labels")
            try Self.requireShape(labels, [b, h, w], "seg_logits' (B, H, W)")
            var sigma: [Float]? = nil
            if let map = archive["seg_sigma"] {
                try Self.requireShape(map, logits.shape, "seg_logits' (B, C, H, W)")
                sigma = try map.floats()
            }
            arrays.segmentation = .init(logits: try logits.floats(), labels: try Self.bytes(labels, classes: c),
                                        sigma: sigma, batch: b, classes: c, height: h, width: w)
        }
        if hasDetection {
            let logits = try archive.array("det_logits")
            try Self.requireRank(logits, 2, "(N, C)")
            let (n, c) = (logits.shape[0], logits.shape[1])
            let targets = try archive.array("det_targets")
            try Self.requireShape(targets, logits.shape, "det_logits' (N, C)")
            var points = [Float](repeating: 0, count: 3 * n)
            if let array = archive["det_points"] {
                try Self.requireShape(array, [n, 3], "(N, 3) rows (image, x, y) with det_logits' N")
                points = try array.floats()
            }
            var boxes: [Float] = []
            if let array = archive["det_boxes"], array.count > 0 {
                guard array.rank == 2, array.shape[1] == 6 else {
                    throw NumPyError(.shapeMismatch, file: array.source,
                                     "shape \(array.shape) must be (M, 6) rows (image, class, x1, y1, x2, y2)")
                }
                boxes = try array.floats()
            }
            var sigma: [Float]? = nil
            if let map = archive["det_sigma"] {
                try Self.requireShape(map, logits.shape, "det_logits' (N, C)")
                sigma = try map.floats()
            }
            let images: Int
            if let given = archive["det_images"] {
                images = try Self.imageCount(given)
            } else {
                // 1 + the largest image index; indices that are not images are left to the step to name.
                let column = stride(from: 0, to: points.count, by: 3).map { points[$0] }
                    + stride(from: 0, to: boxes.count, by: 6).map { boxes[$0] }
                let largest = column.filter { $0 >= 0 && $0 < 2_147_483_648 && $0 == $0.rounded() }.max()
                images = max(largest.map { Int($0) + 1 } ?? 0, arrays.segmentation?.batch ?? 0)
            }
            arrays.detection = .init(logits: try logits.floats(), targets: try targets.floats(), points: points, boxes: boxes,
                                     sigma: sigma, samples: n, classes: c, images: images)
        }
    }

    private static func requireRank(_ array: NumPyArray, _ rank: Int, _ meaning: String) throws(NumPyError) {
        guard array.rank == rank else {
            throw NumPyError(.shapeMismatch, file: array.source, "shape \(array.shape) must be \(meaning)")
        }
    }

    private static func requireShape(_ array: NumPyArray, _ shape: [Int], _ meaning: String) throws(NumPyError) {
        guard array.shape == shape else {
            throw NumPyError(.shapeMismatch, file: array.source, "shape \(array.shape) must be \(meaning) = \(shape)")
        }
    }

    /// Labels as bytes: any integer dtype (or whole floats), each in 0…255.
    private static func bytes(_ labels: NumPyArray, classes: Int) throws -> [UInt8] {
        if case .uint8(let values) = labels.storage { return values }
        let values = try labels.int64s()
        if let i = values.firstIndex(where: { !(0...255).contains($0) }) {
            let place = labels.index(ofFlat: i).map(String.init).joined(separator: ", ")
            throw InputError("\(labels.source ?? "seg_labels")[\(place)]: is \(values[i]); labels are 0 (background), 1…\(classes) (classes) or 255 (ignore)")
        }
        return values.map { UInt8($0) }
    }

    private static func imageCount(_ array: NumPyArray) throws -> Int {
        guard array.count == 1 else {
            throw NumPyError(.shapeMismatch, file: array.source, "shape \(array.shape) must be a scalar: the number of images")
        }
        let value = try array.int64s()[0]
        guard value >= 0, let count = Int(exactly: value) else {
            throw InputError("\(array.source ?? "det_images"): the number of images must be ≥ 0, got \(value)")
        }
        return count
    }
}
