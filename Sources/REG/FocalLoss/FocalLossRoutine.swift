import REGRuntime

/// The OpenCL routine of the focal loss: Kernels/focal_loss.cl.
///
/// One evaluation queues, in order: for a segmentation mean, `count_labels` + `finish_sums` (the
/// count of non-ignored pixels and the gradient's 1/count, left on the device); the main kernel
/// (`focal_detection` or `focal_segmentation`: loss, gradient and ∂σ in one pass, one partial sum per
/// work-group); `finish_sums` (the partials in a fixed order). The host then reads the flag for bad
/// input, the two sums and the count, and the gradient.
///
/// The main kernels are specialised per variant (layout, activation, spatial mode, σ mode, whether
/// ℓ is written per element, C for softmax) and built on first use through the context's program
/// cache.
package final class FocalLossRoutine: DeviceRoutine {
    /// What a program is specialised for: its `-D` build options.
    struct Variant: Hashable {
        enum Spatial: Int { case none = 0, weights = 1, distances = 2 }
        enum Uncertainty: Int { case none = 0, scalar = 1, perElement = 2 }

        var segmentation = false
        var softmax = false
        /// C, used only by softmax (its per-pixel arrays are sized at compile time).
        var classes = 2
        var spatial = Spatial.none
        var uncertainty = Uncertainty.none
        var elementLoss = false
        var precision = FocalLossPrecision()

        init() {}

        init(_ shape: FocalLossShape) {
            let settings = shape.settings
            if case .segmentation = shape.layout { segmentation = true }
            softmax = settings.activation == .softmax
            classes = softmax ? shape.classes : 2
            switch settings.spatial {
            case .none: spatial = .none
            case .weights: spatial = .weights
            case .distances: spatial = .distances
            }
            switch settings.uncertainty {
            case .none: uncertainty = .none
            case .scalar: uncertainty = .scalar
            case .perElement: uncertainty = .perElement
            }
            elementLoss = settings.reduction == .none
            precision = shape.precision
        }

        var buildOptions: String {
            func flag(_ on: Bool) -> Int { on ? 1 : 0 }
            return "-DSPATIAL=\(spatial.rawValue) -DUNCERTAINTY=\(uncertainty.rawValue) -DELEMENT_LOSS=\(flag(elementLoss))"
                + " -DSOFTMAX=\(flag(softmax)) -DCLASSES=\(classes) -DHALF_LOGITS=\(flag(precision.logits))"
                + " -DHALF_TARGETS=\(flag(precision.targets)) -DHALF_GRADIENT=\(flag(precision.gradient))"
        }

        var kernelName: String { segmentation ? "focal_segmentation" : "focal_detection" }
    }

    private struct MainKernel {
        let kernel: Kernel
        let workGroupSize: Int
        /// The positive-row count of the same program: it reads the targets in the variant's type.
        let countPositiveRows: Kernel
    }

    private let context: DeviceContext
    private let configuration: Engine.Configuration
    /// The device's row of the tuning table, or the configured override.
    let kernelVariant: KernelVariant
    /// common.cl + refinement.cl + vector.cl + focal_loss.cl.
    private let source: String
    private let countLabels: Kernel
    private let countPositiveRows: Kernel
    private let finishSums: Kernel
    private let countGroupSize: Int
    private let finishGroupSize: Int
    private var mainKernels: [Variant: MainKernel] = [:]
    /// The single-operation calls' device buffers, reused while inputs keep their size.
    let workspace: Workspace
    /// Bound to the kernel arguments a variant does not use.
    private let unusedFloats: Buffer<Float>
    private let unusedBytes: Buffer<UInt8>

    package init(context: DeviceContext, configuration: Engine.Configuration) throws(OpenCLError) {
        self.context = context
        self.configuration = configuration
        guard let focal = KernelSources.files["focal_loss"], let vector = KernelSources.files["vector"] else {
            preconditionFailure("focal_loss.cl or vector.cl is not embedded; add it to Sources/REGKernels/kernels.c")
        }
        source = KernelSources.program("refinement") + "\n#line 1 \"vector.cl\"\n" + vector
            + "\n#line 1 \"focal_loss.cl\"\n" + focal
        kernelVariant = configuration.kernelVariant ?? .tuned(for: context.device)
        // Build the plain variant now, so that a device that cannot build this file is known at once.
        let base = Variant()
        let program = try context.program(source: source, options: Self.options(base, kernelVariant, configuration))
        countLabels = try program.kernel("count_labels")
        countPositiveRows = try program.kernel("count_positive_rows")
        finishSums = try program.kernel("finish_sums")
        countGroupSize = try configuration.workGroupSize(for: countLabels)
        finishGroupSize = try configuration.workGroupSize(for: finishSums)
        let detection = try program.kernel(base.kernelName)
        mainKernels[base] = MainKernel(kernel: detection, workGroupSize: try configuration.workGroupSize(for: detection),
                                       countPositiveRows: countPositiveRows)
        workspace = Workspace(context: context)
        unusedFloats = try Buffer<Float>(context: context, count: 1)
        unusedBytes = try Buffer<UInt8>(context: context, count: 1)
    }

    private static func options(_ variant: Variant, _ kernelVariant: KernelVariant,
                                _ configuration: Engine.Configuration) -> String {
        let options = "\(variant.buildOptions) \(kernelVariant.buildOptions)"
        return configuration.buildOptions.isEmpty ? options : "\(options) \(configuration.buildOptions)"
    }

    private func mainKernel(_ variant: Variant) throws(OpenCLError) -> MainKernel {
        if let cached = mainKernels[variant] { return cached }
        let program = try context.program(source: source, options: Self.options(variant, kernelVariant, configuration))
        let kernel = try program.kernel(variant.kernelName)
        let main = MainKernel(kernel: kernel, workGroupSize: try configuration.workGroupSize(for: kernel),
                              countPositiveRows: variant.segmentation ? countPositiveRows : try program.kernel("count_positive_rows"))
        mainKernels[variant] = main
        return main
    }

    // MARK: Evaluation

    /// The inputs on the device and the buffers one evaluation writes.
    package final class Prepared {
        let shape: FocalLossShape
        let variant: Variant
        /// Names the first bad element when a kernel flagged one (a host scan of the inputs).
        let rescan: () throws -> Void
        let logits: DeviceFloats
        let targets: DeviceFloats?
        let labels: Buffer<UInt8>?
        let spatial: Buffer<Float>?
        let sigma: Buffer<Float>?
        let alpha: Buffer<Float>
        let gradient: DeviceFloats
        let sigmaGradient: DeviceFloats?
        let elementLoss: Buffer<Float>?
        let partialSums: Buffer<SIMD4<Float>>
        let partialCounts: Buffer<SIMD2<UInt64>>
        let resultSums: Buffer<SIMD4<Float>>
        let resultCount: Buffer<SIMD2<UInt64>>
        let scale: Buffer<Float>
        let invalid: Buffer<Int32>
        /// The kernels the last `enqueue` queued, by stage: "counts" (the pre-pass and its
        /// reduction), "main", "finish" (the main pass's reduction).
        package var lastStages: [(stage: String, event: Event)] = []

        /// Device seconds per stage of the last evaluation (its events must have completed).
        package func stageSeconds() throws -> [String: Double] {
            var seconds: [String: Double] = [:]
            for (stage, event) in lastStages { seconds[stage, default: 0] += Double(try event.elapsedNanoseconds()) * 1e-9 }
            return seconds
        }

        /// Buffers the caller filled or will fill (the step's workspace, possibly larger than
        /// needed: the kernels take their counts from `shape`). `alpha` is written here.
        init(_ shape: FocalLossShape, rescan: @escaping () throws -> Void, logits: DeviceFloats,
             targets: DeviceFloats?, labels: Buffer<UInt8>?, spatial: Buffer<Float>?, sigma: Buffer<Float>?,
             gradient: DeviceFloats, sigmaGradient: DeviceFloats?, elementLoss: Buffer<Float>?,
             scratch: FocalLossScratch) throws(OpenCLError) {
            self.shape = shape
            variant = Variant(shape)
            self.rescan = rescan
            self.logits = logits
            self.targets = targets
            self.labels = labels
            self.spatial = spatial
            self.sigma = sigma
            self.gradient = gradient
            self.sigmaGradient = sigmaGradient
            self.elementLoss = elementLoss
            alpha = scratch.alpha
            partialSums = scratch.partialSums
            partialCounts = scratch.partialCounts
            resultSums = scratch.resultSums
            resultCount = scratch.resultCount
            scale = scratch.scale
            invalid = scratch.invalid
            try alpha.write(Self.alphaTable(shape.settings.alpha ?? [Float](repeating: 1, count: shape.classes)))
        }

        /// The lanes of a vector whose first element has class φ have classes φ, φ + 1, … (mod C):
        /// row φ of this C × `alphaLanes` table holds their α (focal_loss.cl's REG_ALPHA_LANES).
        static func alphaTable(_ alpha: [Float]) -> [Float] {
            let classes = alpha.count
            return (0..<(classes * FocalLossScratch.alphaLanes)).map { i in
                alpha[(i / FocalLossScratch.alphaLanes + i % FocalLossScratch.alphaLanes) % classes]
            }
        }

        /// Uploads `input` into `workspace`'s buffers (reused from call to call: a large input's
        /// fresh device pages would cost more than its copy) and takes the outputs from it.
        convenience init(_ input: FocalLossInput, workspace: Workspace, partials: Int) throws(OpenCLError) {
            let settings = input.settings
            let n = input.elementCount
            let segmentation = Variant(input.shape).segmentation
            func upload<T: BitwiseCopyable>(_ name: String, _ values: [T]) throws(OpenCLError) -> Buffer<T> {
                let buffer = try workspace.buffer(name, T.self, count: values.count)
                try buffer.write(values)
                return buffer
            }
            func floats(_ name: String, half: Bool) throws(OpenCLError) -> DeviceFloats {
                half ? .float16(try workspace.buffer(name + "16", Float16.self, count: n))
                     : .float32(try workspace.buffer(name, Float.self, count: n))
            }
            var spatial: Buffer<Float>? = nil
            switch settings.spatial {
            case .none: break
            case .weights(let values), .distances(let values, _): spatial = try upload("spatial", values)
            }
            var sigma: Buffer<Float>? = nil
            if case .perElement(let values) = settings.uncertainty { sigma = try upload("sigma", values) }
            let precision = input.precision
            let logits: DeviceFloats = precision.logits ? .float16(try upload("logits16", input.halfLogits))
                                                        : .float32(try upload("logits", input.logits))
            var targets: DeviceFloats? = nil
            if !segmentation {
                targets = precision.targets ? .float16(try upload("targets16", input.halfTargets))
                                            : .float32(try upload("targets", input.targets))
            }
            try self.init(input.shape, rescan: input.validateElements, logits: logits, targets: targets,
                          labels: segmentation ? try upload("labels", input.labels) : nil,
                          spatial: spatial, sigma: sigma, gradient: try floats("gradient", half: precision.gradient),
                          sigmaGradient: sigma == nil ? nil : try floats("sigmaGradient", half: precision.gradient),
                          elementLoss: settings.reduction == .none ? try workspace.buffer("elementLoss", Float.self, count: n) : nil,
                          scratch: try workspace.focalScratch("scratch", classes: input.classes, partials: partials))
        }

        /// How the gradient's 1/M is known before the main pass: 0 written by the host (M known:
        /// samples of detection, a given M, or no mean), 1 counted on the device as non-ignored
        /// pixels (segmentation, samples), 2 as positives (`finish_sums`'s `write_scale`).
        var scaleMode: Int32 {
            let settings = shape.settings
            guard settings.reduction == .mean else { return 0 }
            switch settings.normalizer {
            case .samples: return variant.segmentation ? 1 : 0
            case .positives: return 2
            case .given: return 0
            }
        }
    }

    /// How a kernel that leaves partials for `finish_sums` is launched.
    private struct Launch {
        /// Global work size, a whole number of work-groups.
        let global: Int
        /// Partials it writes for `finish_sums`: one per work-item or one per work-group.
        let partials: Int
        /// Units (vectors, samples) per work-item under item partials; 1 otherwise.
        let chunk: Int
    }

    /// The main kernel's launch for `shape` under this device's kernel variant: over vectors of
    /// elements (detection) or of one map's pixels (segmentation).
    private func mainLaunch(_ shape: FocalLossShape, _ main: MainKernel) -> Launch {
        let lanes = kernelVariant.vectorWidth
        let vectors: Int
        if case .segmentation(let batch, _, let height, let width) = shape.layout {
            vectors = batch * ((height * width + lanes - 1) / lanes) // a map's last vector may be partial
        } else {
            vectors = (shape.elementCount + lanes - 1) / lanes
        }
        return launch(over: vectors, workGroupSize: main.workGroupSize)
    }

    /// The pre-pass's launch: over samples (count_positive_rows) or vectors of pixels (count_labels).
    private func countLaunch(_ shape: FocalLossShape) -> Launch {
        let lanes = kernelVariant.vectorWidth
        if case .segmentation = shape.layout {
            return launch(over: (shape.rowCount + lanes - 1) / lanes, workGroupSize: countGroupSize)
        }
        return launch(over: shape.rowCount, workGroupSize: countGroupSize)
    }

    /// Item partials: chunks of at least 8 units, and few enough work-items (about 16K) that
    /// `finish_sums`, one work-group, reads their partials quickly. Work-group trees: enough groups
    /// to cover the units once (at most 2^16); on GPUs and accelerators at most 32 per compute unit,
    /// enough to fill the device several times over, so that `finish_sums` reads a few thousand
    /// partials at most; the grid-stride loops cover the rest.
    private func launch(over units: Int, workGroupSize: Int) -> Launch {
        if kernelVariant.itemPartials {
            let chunk = max(8, (units + 16_383) / 16_384)
            let global = LaunchShape.covering(count: (units + chunk - 1) / chunk, workGroupSize: workGroupSize)
            return Launch(global: global, partials: global, chunk: chunk)
        }
        let limit = context.device.kind == .cpu ? Int.max : max(64, 32 * context.device.computeUnits)
        let groups = min(LaunchShape.gridStride(count: units, workGroupSize: workGroupSize) / workGroupSize, limit)
        return Launch(global: groups * workGroupSize, partials: groups, chunk: 1)
    }

    /// Uploads `input` and allocates the outputs.
    ///
    /// The buffers are this routine's workspace, kept from call to call (the engine serialises
    /// calls): a Prepared is valid until the next `prepare`.
    package func prepare(_ input: FocalLossInput) throws -> Prepared {
        try Prepared(input, workspace: workspace, partials: try partials(for: input.shape))
    }

    /// How many per-group partials an evaluation of `shape` writes: the size of its scratch.
    func partials(for shape: FocalLossShape) throws(OpenCLError) -> Int {
        max(mainLaunch(shape, try mainKernel(Variant(shape))).partials, countLaunch(shape).partials)
    }

    /// Queues every kernel of one evaluation; returns their events (kernel time = their sum).
    package func enqueue(_ problem: Prepared) throws -> [Event] {
        let input = problem.shape
        let settings = input.settings
        let main = try mainKernel(problem.variant)
        let launch = mainLaunch(input, main)
        var events: [Event] = []
        try problem.invalid.fill(0)

        // A pre-pass only when the mean's M must be known before the gradient is written; the main
        // kernel counts as well, and its counts are the ones read back.
        if problem.scaleMode != 0 {
            // Detection counts positive rows (its samples are known); segmentation counts labels.
            let counter = problem.labels == nil ? main.countPositiveRows : countLabels
            var count = KernelArguments(counter)
            if let labels = problem.labels { try count.buffer(labels) } else { try problem.targets!.bind(&count) }
            try count.value(UInt64(input.rowCount))
            try count.value(UInt32(input.classes))
            try count.buffer(problem.partialSums)
            try count.buffer(problem.partialCounts)
            try count.local(countGroupSize * MemoryLayout<SIMD4<Float>>.stride)
            try count.local(countGroupSize * MemoryLayout<SIMD2<UInt64>>.stride)
            let counting = countLaunch(input)
            try count.value(UInt64(counting.chunk))
            events.append(try counter.launch(global: [counting.global], local: [countGroupSize]))
            events.append(try finish(problem, groups: counting.partials, scaleMode: problem.scaleMode))
            problem.lastStages = events.map { ("counts", $0) }
        }
        if problem.scaleMode == 0 {
            let divisor = settings.divisor(count: input.rowCount, positives: 0) // M known: no positives needed
            try problem.scale.write([Float(Double(settings.gradientScale) * divisor.inverse)])
        }

        var arguments = KernelArguments(main.kernel)
        try problem.logits.bind(&arguments)
        if let labels = problem.labels { try arguments.buffer(labels) } else { try problem.targets!.bind(&arguments) }
        try arguments.buffer(problem.spatial ?? unusedFloats)
        try arguments.buffer(problem.sigma ?? unusedFloats)
        try arguments.buffer(problem.alpha)
        try arguments.value(UInt32(input.classes))
        if case .segmentation(_, _, let height, let width) = input.layout {
            try arguments.value(UInt64(height * width))
            try arguments.value(UInt64(input.rowCount))
        } else {
            try arguments.value(UInt64(input.elementCount))
        }
        try arguments.value(settings.gamma)
        try arguments.value(Int32(settings.integerGamma ?? -1))
        try arguments.value(settings.positiveFraction ?? -1)
        if case .scalar(let sigma) = settings.uncertainty { try arguments.value(sigma) } else { try arguments.value(Float(0)) }
        if case .distances(_, let refinement) = settings.spatial {
            try arguments.value(refinement.beta)
            try arguments.value(refinement.delta)
        } else {
            try arguments.value(Float(0))
            try arguments.value(Float(0))
        }
        try arguments.buffer(problem.scale)
        try problem.gradient.bind(&arguments)
        if let sigmaGradient = problem.sigmaGradient { try sigmaGradient.bind(&arguments) } else { try arguments.buffer(unusedFloats) }
        try arguments.buffer(problem.elementLoss ?? unusedFloats)
        try arguments.buffer(problem.partialSums)
        try arguments.buffer(problem.partialCounts)
        try arguments.local(main.workGroupSize * MemoryLayout<SIMD4<Float>>.stride)
        try arguments.local(main.workGroupSize * MemoryLayout<SIMD2<UInt64>>.stride)
        try arguments.buffer(problem.invalid)
        try arguments.value(UInt64(launch.chunk))
        if events.isEmpty { problem.lastStages = [] }
        events.append(try main.kernel.launch(global: [launch.global], local: [main.workGroupSize]))
        events.append(try finish(problem, groups: launch.partials, scaleMode: 0))
        problem.lastStages += [("main", events[events.count - 2]), ("finish", events[events.count - 1])]
        return events
    }

    private func finish(_ problem: Prepared, groups: Int, scaleMode: Int32) throws(OpenCLError) -> Event {
        var arguments = KernelArguments(finishSums)
        try arguments.buffer(problem.partialSums)
        try arguments.buffer(problem.partialCounts)
        try arguments.value(UInt32(groups))
        try arguments.buffer(problem.resultSums)
        try arguments.buffer(problem.resultCount)
        try arguments.value(problem.shape.settings.gradientScale)
        try arguments.value(scaleMode)
        try arguments.buffer(problem.scale)
        try arguments.local(finishGroupSize * MemoryLayout<SIMD4<Float>>.stride)
        try arguments.local(finishGroupSize * MemoryLayout<SIMD2<UInt64>>.stride)
        return try finishSums.launch(global: [finishGroupSize], local: [finishGroupSize])
    }

    /// Reads one evaluation's results; a flagged bad element throws `InvalidArgument` naming it.
    package func results(_ problem: Prepared) throws -> FocalLossResult<Float> {
        let summary = try self.summary(problem)
        let n = problem.shape.elementCount
        return FocalLossResult(loss: Float(summary.loss), sum: summary.sum, count: summary.count,
                               positives: summary.positives, divisor: summary.divisor,
                               elementLoss: try problem.elementLoss?.read(count: n),
                               gradient: try problem.gradient.read(count: n),
                               sigmaGradient: try problem.sigmaGradient?.read(count: n),
                               scalarSigmaGradient: summary.scalarSigmaGradient.map(Float.init))
    }

    /// The sums and counts of one evaluation, checked: a flagged input element throws its
    /// `InvalidArgument` (or `DeviceFault` when the host finds none), a float32 overflow
    /// `DeviceOverflow`. The per-element outputs stay on the device for the caller to read.
    func summary(_ problem: Prepared) throws -> FocalLossSummary {
        let settings = problem.shape.settings
        let flags = try problem.invalid.read()
        if flags[0] != 0 {
            try problem.rescan()
            throw DeviceFault("the focal kernel flagged an input element that the host finds valid")
        }
        let sums = try problem.resultSums.read()[0]
        let sum = Double(sums.x) + Double(sums.y)
        let dSigma = Double(sums.z) + Double(sums.w)
        if flags[1] != 0 || !sum.isFinite || !dSigma.isFinite {
            throw DeviceOverflow("float32 overflow of the loss, its sum or a gradient from finite inputs")
        }
        let counts = try problem.resultCount.read()[0]
        let count = problem.variant.segmentation ? Int(counts.x) : problem.shape.rowCount
        let positives = Int(counts.y)
        let divisor = settings.divisor(count: count, positives: positives)
        var scalarSigmaGradient: Double? = nil
        if case .scalar = settings.uncertainty {
            scalarSigmaGradient = dSigma * Double(settings.gradientScale) * divisor.inverse
        }
        return FocalLossSummary(sum: sum, count: count, positives: positives, divisor: divisor.value,
                                loss: sum * divisor.inverse, scalarSigmaGradient: scalarSigmaGradient)
    }
}

/// A per-element float array on the device: float32, or float16 (read and written by the kernels
/// with vload_half / vstore_half).
enum DeviceFloats {
    case float32(Buffer<Float>)
    case float16(Buffer<Float16>)

    init(context: DeviceContext, count: Int, half: Bool) throws(OpenCLError) {
        self = half ? .float16(try Buffer(context: context, count: count)) : .float32(try Buffer(context: context, count: count))
    }

    func bind(_ arguments: inout KernelArguments) throws(OpenCLError) {
        switch self {
        case .float32(let buffer): try arguments.buffer(buffer)
        case .float16(let buffer): try arguments.buffer(buffer)
        }
    }

    /// The first `count` values, widened to float32 (exactly) where they are float16.
    func read(count: Int) throws(OpenCLError) -> [Float] {
        switch self {
        case .float32(let buffer): try buffer.read(count: count)
        case .float16(let buffer): HalfPrecision.widen(try buffer.read(count: count))
        }
    }
}

/// The scalars of one focal-loss evaluation.
struct FocalLossSummary {
    let sum: Double
    let count: Int
    let positives: Int
    let divisor: Double
    let loss: Double
    /// Σ ∂ℓ/∂σ times the gradient's scale, for a scalar σ.
    let scalarSigmaGradient: Double?
}

/// The small buffers of one evaluation besides its inputs and outputs: α, the per-group partials,
/// the results, the gradient's scale and the flags. Reusable from one evaluation to the next.
final class FocalLossScratch {
    let alpha: Buffer<Float>
    let partialSums: Buffer<SIMD4<Float>>
    let partialCounts: Buffer<SIMD2<UInt64>>
    let resultSums: Buffer<SIMD4<Float>>
    let resultCount: Buffer<SIMD2<UInt64>>
    let scale: Buffer<Float>
    /// [0]: a bad input element; [1]: a non-finite output from finite inputs.
    let invalid: Buffer<Int32>

    /// The device buffers one scratch allocates.
    static let bufferCount = 7
    /// Columns of the α table (Prepared.alphaTable): the widest vector a kernel variant uses.
    static let alphaLanes = 16

    init(context: DeviceContext, classes: Int, partials: Int) throws(OpenCLError) {
        alpha = try Buffer(context: context, count: classes * Self.alphaLanes)
        partialSums = try Buffer(context: context, count: partials)
        partialCounts = try Buffer(context: context, count: partials)
        resultSums = try Buffer(context: context, count: 1)
        resultCount = try Buffer(context: context, count: 1)
        scale = try Buffer(context: context, count: 1)
        invalid = try Buffer(context: context, count: 2)
    }

    /// Whether this scratch serves an evaluation of `classes` classes and `partials` partials.
    func fits(classes: Int, partials: Int) -> Bool {
        alpha.count >= classes * Self.alphaLanes && partialSums.count >= partials
    }
}
