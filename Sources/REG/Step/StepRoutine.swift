import REGRuntime

/// A step and where its gradients go.
package struct StepCall {
    let problem: StepProblem
    let gradients: StepGradients

    init(problem: StepProblem, gradients: StepGradients) {
        self.problem = problem
        self.gradients = gradients
    }

    /// Checks `batch` and `settings` as `Engine.step` does.
    package init(_ batch: StepBatch, _ settings: StepSettings, into gradients: StepGradients) throws(InvalidArgument) {
        self.init(problem: try StepProblem(batch, settings), gradients: gradients)
    }
}

/// The step on an OpenCL device, end to end: labels, points and boxes go up once per chunk; the
/// point-to-box distances and the per-class EDT are written to device buffers that the focal
/// kernels read (the refinement is computed inside them); the only read-back is the gradients,
/// into the caller's memory, and the sums. Buffers come from a `Workspace` kept between steps.
///
/// A batch larger than the memory budget runs in chunks (samples for detection, images for
/// segmentation), one after the other, in a fixed order: the results are deterministic for a
/// given budget and equal the unsplit run within the accuracy contract. A chunked task's M is
/// counted on the host first and each chunk runs as a sum scaled by 1/M.
package final class StepRoutine: DeviceRoutine {
    package enum Stage: String, Hashable, CaseIterable { case distances, focal }

    /// One chunk of one task: a contiguous range of samples (detection) or images (segmentation).
    struct Chunk {
        enum Task { case detection, segmentation }
        let task: Task
        let range: Range<Int>
    }

    /// Sums, counts and the divisor of one task over its chunks.
    struct Totals {
        var sum = 0.0
        var count = 0
        var positives = 0
        var sigmaGradient: Double? = nil
        /// M: the device's (one chunk) or the host's (several).
        var divisor: (value: Double, inverse: Double)? = nil

        mutating func add(_ summary: FocalLossSummary) {
            sum += summary.sum
            count += summary.count
            positives += summary.positives
            if let s = summary.scalarSigmaGradient { sigmaGradient = (sigmaGradient ?? 0) + s }
        }

        func result(_ settings: TaskSettings) -> TaskResult {
            let m = divisor ?? FocalLoss(normalizer: settings.normalizer).divisor(count: count, positives: positives)
            return TaskResult(loss: sum * m.inverse, sum: sum, count: count, positives: positives, divisor: m.value,
                              sigmaGradient: sigmaGradient)
        }
    }

    package final class Prepared {
        let call: StepCall
        let chunks: [Chunk]
        /// The host-counted M of a task that runs in several chunks; nil for one chunk.
        let detectionDivisor: (value: Double, inverse: Double)?
        let segmentationDivisor: (value: Double, inverse: Double)?
        /// Points and boxes in the box-distance kernel's layout (detection with refinement).
        let grouped: BoxDistanceProblem.Grouped?
        var detection = Totals()
        var segmentation = Totals()
        /// Device time per stage of the last evaluation (from profiling events).
        package var stageNanoseconds: [Stage: UInt64] = [:]

        init(call: StepCall, chunks: [Chunk], detectionDivisor: (value: Double, inverse: Double)?,
             segmentationDivisor: (value: Double, inverse: Double)?, grouped: BoxDistanceProblem.Grouped?) {
            self.call = call
            self.chunks = chunks
            self.detectionDivisor = detectionDivisor
            self.segmentationDivisor = segmentationDivisor
            self.grouped = grouped
        }
    }

    private let context: DeviceContext
    private let focal: FocalLossRoutine
    private let distanceTransform: DistanceTransformRoutine
    private let boxDistance: BoxDistanceRoutine
    let workspace: Workspace

    package init(context: DeviceContext, configuration: Engine.Configuration) throws(OpenCLError) {
        self.context = context
        focal = try FocalLossRoutine(context: context, configuration: configuration)
        distanceTransform = try DistanceTransformRoutine(context: context, configuration: configuration)
        boxDistance = try BoxDistanceRoutine(context: context, configuration: configuration)
        workspace = Workspace(context: context)
    }

    // MARK: Plan

    /// Splits the batch under the memory budget and counts the normalisers of split tasks.
    package func prepare(_ call: StepCall) throws -> Prepared {
        let problem = call.problem
        let device = context.device
        let budget = problem.settings.memoryBudget ?? Int(device.globalMemoryBytes / 2)
        let gradients = call.gradients
        let detectionUnit = problem.detection.map {
            Self.bytesPerSample($0, gradient: gradients.detectionLogitsView?.precision ?? .float32)
        } ?? 0
        let segmentationUnit = problem.segmentation.map {
            Self.bytesPerImage($0, gradient: gradients.segmentationLogitsView?.precision ?? .float32)
        } ?? 0
        let detectionNeed = detectionUnit * (problem.detection?.batch.samples ?? 0)
        let segmentationNeed = segmentationUnit * (problem.segmentation?.batch.batch ?? 0)
        let totalNeed = max(detectionNeed + segmentationNeed, 1)

        var chunks: [Chunk] = []
        var detectionDivisor: (value: Double, inverse: Double)? = nil
        var segmentationDivisor: (value: Double, inverse: Double)? = nil
        if let d = problem.detection, d.batch.samples > 0 {
            let share = Int(Double(budget) * Double(detectionNeed) / Double(totalNeed))
            let largest = 4 * d.batch.classes
            let size = try Self.chunkSize(units: d.batch.samples, bytesPerUnit: detectionUnit, largestPerUnit: largest,
                                          share: share, device: device, unit: "sample")
            chunks += Self.ranges(d.batch.samples, size).map { Chunk(task: .detection, range: $0) }
            if size < d.batch.samples { detectionDivisor = d.hostDivisor() }
        }
        if let s = problem.segmentation, s.batch.batch * s.batch.height * s.batch.width > 0 {
            let share = Int(Double(budget) * Double(segmentationNeed) / Double(totalNeed))
            let largest = 4 * s.batch.classes * s.batch.height * s.batch.width
            let size = try Self.chunkSize(units: s.batch.batch, bytesPerUnit: segmentationUnit, largestPerUnit: largest,
                                          share: share, device: device, unit: "image")
            chunks += Self.ranges(s.batch.batch, size).map { Chunk(task: .segmentation, range: $0) }
            if size < s.batch.batch { segmentationDivisor = s.hostDivisor() }
        }
        return Prepared(call: call, chunks: chunks, detectionDivisor: detectionDivisor,
                        segmentationDivisor: segmentationDivisor, grouped: problem.detection?.boxes?.grouped())
    }

    /// Device bytes per detection sample: logits, targets, gradient (and distances, σ and ∂σ) of C
    /// elements each — 2 bytes for float16 logits, targets and gradients (σ and distances are
    /// float32 on the device) — and the point's (x, y, group).
    static func bytesPerSample(_ d: StepProblem.Detection, gradient: FloatPrecision) -> Int {
        let g = bytes(gradient)
        var perElement = bytes(d.batch.logits.precision) + bytes(d.batch.targets.precision) + g
        if d.settings.refinement != nil { perElement += 4 }
        if d.batch.sigma != nil { perElement += 4 + g }
        return d.batch.classes * perElement + 12
    }

    /// Device bytes per segmentation image: the labels, and logits, gradient (and maps, σ and ∂σ)
    /// of C·H·W elements each (2 bytes for float16 logits and gradients).
    static func bytesPerImage(_ s: StepProblem.Segmentation, gradient: FloatPrecision) -> Int {
        let g = bytes(gradient)
        var perElement = bytes(s.batch.logits.precision) + g
        if s.settings.refinement != nil { perElement += 4 }
        if s.batch.sigma != nil { perElement += 4 + g }
        let pixels = s.batch.height * s.batch.width
        return pixels * (1 + s.batch.classes * perElement)
    }

    private static func bytes(_ precision: FloatPrecision) -> Int { precision == .float16 ? 2 : 4 }

    /// Units per chunk: as many as the budget share holds, each tensor within one device buffer.
    private static func chunkSize(units: Int, bytesPerUnit: Int, largestPerUnit: Int, share: Int, device: Device,
                                  unit: String) throws(OutOfMemory) -> Int {
        let byBuffer = Int(device.maxAllocationBytes) / max(largestPerUnit, 1)
        guard byBuffer >= 1, bytesPerUnit <= share else {
            let (needed, available, place) = byBuffer < 1
                ? (largestPerUnit, device.maxAllocationBytes, "one buffer on \(device.name)")
                : (bytesPerUnit, UInt64(max(share, 0)), "the step's memory budget on \(device.name)")
            throw OutOfMemory(operation: "step", place: place, neededBytes: needed, availableBytes: available,
                              remedy: "one \(unit) must fit: raise the memory budget, use smaller inputs, or compute on the reference (--device reference)")
        }
        return max(1, min(units, share / max(bytesPerUnit, 1), byBuffer))
    }

    private static func ranges(_ count: Int, _ size: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: size).map { $0..<min($0 + size, count) }
    }

    // MARK: Run

    /// Runs every chunk in order: uploads (non-blocking, straight from the caller's memory), the
    /// distance kernels, the focal kernels, then the gradients read into the caller's memory.
    /// Returns the kernels' events; the sums are in `prepared`, read by `results`.
    package func enqueue(_ prepared: Prepared) throws -> [Event] {
        prepared.detection = Totals(divisor: prepared.detectionDivisor)
        prepared.segmentation = Totals(divisor: prepared.segmentationDivisor)
        prepared.stageNanoseconds = [:]
        var events: [Event] = []
        if let grouped = prepared.grouped {
            try upload(grouped.boxCorners, "det.boxes")
            try upload(grouped.offsets, "det.offsets")
        }
        for chunk in prepared.chunks {
            switch chunk.task {
            case .detection: events += try runDetection(chunk.range, prepared)
            case .segmentation: events += try runSegmentation(chunk.range, prepared)
            }
        }
        return events
    }

    package func results(_ prepared: Prepared) throws -> StepResult {
        let problem = prepared.call.problem
        let detection = problem.detection.map { prepared.detection.result($0.settings) }
        let segmentation = problem.segmentation.map { prepared.segmentation.result($0.settings) }
        let total = (detection?.loss ?? 0) + Double(problem.settings.lambda) * (segmentation?.loss ?? 0)
        return StepResult(total: total, detection: detection, segmentation: segmentation, backend: .openCL(context))
    }

    private func runDetection(_ range: Range<Int>, _ prepared: Prepared) throws -> [Event] {
        let problem = prepared.call.problem
        guard let d = problem.detection else { return [] }
        let b = d.batch, classes = b.classes, n = range.count
        let elements = range.lowerBound * classes..<range.upperBound * classes
        var events: [Event] = []

        var spatial = FocalLoss.SpatialWeight.none
        var distances: Buffer<Float>? = nil
        if let refinement = d.settings.refinement, let grouped = prepared.grouped {
            let xy = try workspace.buffer("det.pointXY", Float.self, count: 2 * n)
            let groups = try workspace.buffer("det.pointGroup", Int32.self, count: n)
            try grouped.pointXY.withUnsafeBufferPointer { try xy.write(from: UnsafeBufferPointer(rebasing: $0[2 * range.lowerBound..<2 * range.upperBound]), blocking: true) }
            try grouped.pointGroup.withUnsafeBufferPointer { try groups.write(from: UnsafeBufferPointer(rebasing: $0[range]), blocking: true) }
            let output = try workspace.buffer("det.distances", Float.self, count: n * classes)
            let launched = try boxDistance.enqueue(points: n, classes: classes, pointXY: xy, pointGroups: groups,
                                                   boxCorners: try workspace.buffer("det.boxes", Float.self, count: grouped.boxCorners.count),
                                                   offsets: try workspace.buffer("det.offsets", Int32.self, count: grouped.offsets.count),
                                                   distances: output)
            events += launched
            distances = output
            spatial = .distances([], refinement) // the distances are in `output`, on the device
        }
        let gradients = prepared.call.gradients
        let task = try taskBuffers("det", logits: b.logits, sigma: b.sigma, gradient: gradients.detectionLogitsView,
                                   elements: elements)
        let targets = try upload(b.targets.slice(elements), "det.targets")

        let settings = chunkSettings(d.settings, spatial: spatial, sigmaMap: b.sigma != nil,
                                     divisor: prepared.detectionDivisor, gradientScale: 1)
        let precision = FocalLossPrecision(logits: b.logits.precision == .float16, targets: b.targets.precision == .float16,
                                           gradient: task.gradientPrecision == .float16)
        let shape = FocalLossShape(layout: .detection(samples: n, classes: classes), settings: settings, precision: precision)
        let evaluation = try FocalLossRoutine.Prepared(
            shape, rescan: problem.scanElements, logits: task.logits, targets: targets, labels: nil,
            spatial: distances, sigma: task.sigma, gradient: task.gradient, sigmaGradient: task.sigmaGradient,
            elementLoss: nil,
            scratch: try workspace.focalScratch("det.scratch", classes: classes, partials: try focal.partials(for: shape)))
        let launched = try focal.enqueue(evaluation)
        prepared.detection.add(try focal.summary(evaluation))
        try record(events, .distances, prepared)
        try record(launched, .focal, prepared)
        try read(task, into: gradients.detectionLogitsView, gradients.detectionSigmaView, elements)
        return events + launched
    }

    private func runSegmentation(_ range: Range<Int>, _ prepared: Prepared) throws -> [Event] {
        let problem = prepared.call.problem
        guard let s = problem.segmentation else { return [] }
        let b = s.batch, plane = b.height * b.width
        let pixels = range.lowerBound * plane..<range.upperBound * plane
        let elements = range.lowerBound * b.classes * plane..<range.upperBound * b.classes * plane
        var events: [Event] = []

        let labels = try workspace.buffer("seg.labels", UInt8.self, count: pixels.count)
        try labels.write(from: UnsafeBufferPointer(rebasing: b.labels[pixels]), blocking: false)
        var spatial = FocalLoss.SpatialWeight.none
        var maps: Buffer<Float>? = nil
        if let refinement = s.settings.refinement, !pixels.isEmpty {
            let output = try workspace.buffer("seg.maps", Float.self, count: elements.count)
            let badLabel = try workspace.buffer("seg.badLabel", Int32.self, count: 1)
            let edt = try DistanceTransformProblem(labelCount: pixels.count, batch: range.count, height: b.height,
                                                   width: b.width, classes: b.classes, spacing: .unit, squared: false)
            let launched = try distanceTransform.enqueue(edt, labels: labels, maps: output, badLabel: badLabel)
            if try badLabel.read()[0] != 0 {
                try problem.scanElements()
                throw DeviceFault("the distance-transform kernel flagged a label that the host finds valid")
            }
            try record(launched, .distances, prepared)
            events += launched
            maps = output
            spatial = .distances([], refinement) // the maps are in `output`, on the device
        }
        let gradients = prepared.call.gradients
        let task = try taskBuffers("seg", logits: b.logits, sigma: b.sigma, gradient: gradients.segmentationLogitsView,
                                   elements: elements)
        let settings = chunkSettings(s.settings, spatial: spatial, sigmaMap: b.sigma != nil,
                                     divisor: prepared.segmentationDivisor, gradientScale: problem.settings.lambda)
        let precision = FocalLossPrecision(logits: b.logits.precision == .float16,
                                           gradient: task.gradientPrecision == .float16)
        let shape = FocalLossShape(layout: .segmentation(batch: range.count, classes: b.classes, height: b.height, width: b.width),
                                   settings: settings, precision: precision)
        let evaluation = try FocalLossRoutine.Prepared(
            shape, rescan: problem.scanElements, logits: task.logits, targets: nil, labels: labels, spatial: maps,
            sigma: task.sigma, gradient: task.gradient, sigmaGradient: task.sigmaGradient, elementLoss: nil,
            scratch: try workspace.focalScratch("seg.scratch", classes: b.classes, partials: try focal.partials(for: shape)))
        let launched = try focal.enqueue(evaluation)
        prepared.segmentation.add(try focal.summary(evaluation))
        try record(launched, .focal, prepared)
        try read(task, into: gradients.segmentationLogitsView, gradients.segmentationSigmaView, elements)
        return events + launched
    }

    /// A task's logits (and σ map) uploaded, and its gradient buffers (float16 where the caller's
    /// gradient memory is float16: the kernels write half and it is read back as it is).
    private struct TaskBuffers {
        let logits: DeviceFloats
        let gradient: DeviceFloats
        let gradientPrecision: FloatPrecision
        let sigma: Buffer<Float>?
        let sigmaGradient: DeviceFloats?
    }

    private func taskBuffers(_ task: String, logits: FloatView, sigma: FloatView?, gradient: MutableFloatView?,
                             elements: Range<Int>) throws -> TaskBuffers {
        let count = elements.count
        let logitBuffer = try upload(logits.slice(elements), "\(task).logits")
        var sigmaBuffer: Buffer<Float>? = nil
        if let sigma {
            // The kernels read σ as float32: a float16 map is widened on the host (exactly) first.
            let buffer = try workspace.buffer("\(task).sigma", Float.self, count: count)
            switch sigma.slice(elements) {
            case .float32(let values): try buffer.write(from: values, blocking: false)
            case .float16(let values):
                let widened = HalfPrecision.widen(values)
                try widened.withUnsafeBufferPointer { try buffer.write(from: $0, blocking: true) }
            }
            sigmaBuffer = buffer
        }
        let precision = gradient?.precision ?? .float32
        return TaskBuffers(logits: logitBuffer, gradient: try deviceFloats("\(task).gradient", precision, count: count),
                           gradientPrecision: precision, sigma: sigmaBuffer,
                           sigmaGradient: sigma == nil ? nil : try deviceFloats("\(task).sigmaGradient", precision, count: count))
    }

    /// `values` in the workspace buffer `name`, in their own element type (non-blocking: the caller's
    /// memory outlives the step's queue work).
    private func upload(_ values: FloatView, _ name: String) throws -> DeviceFloats {
        switch values {
        case .float32(let view):
            let buffer = try workspace.buffer(name, Float.self, count: view.count)
            try buffer.write(from: view, blocking: false)
            return .float32(buffer)
        case .float16(let view):
            let buffer = try workspace.buffer(name, Float16.self, count: view.count)
            try buffer.write(from: view, blocking: false)
            return .float16(buffer)
        }
    }

    private func deviceFloats(_ name: String, _ precision: FloatPrecision, count: Int) throws -> DeviceFloats {
        precision == .float16 ? .float16(try workspace.buffer(name, Float16.self, count: count))
                              : .float32(try workspace.buffer(name, Float.self, count: count))
    }

    /// The gradients read straight into the caller's memory (validated: same element types).
    private func read(_ task: TaskBuffers, into logits: MutableFloatView?, _ sigma: MutableFloatView?,
                      _ elements: Range<Int>) throws {
        if let logits { try read(task.gradient, into: logits.slice(elements)) }
        if let sigma, let sigmaGradient = task.sigmaGradient { try read(sigmaGradient, into: sigma.slice(elements)) }
    }

    private func read(_ buffer: DeviceFloats, into view: MutableFloatView) throws {
        switch (buffer, view) {
        case (.float32(let device), .float32(let host)): try device.read(into: host)
        case (.float16(let device), .float16(let host)): try device.read(into: host)
        default: preconditionFailure("the step's gradient buffers follow the caller's element type")
        }
    }

    /// The focal-loss settings of one chunk: the task's own mean for an unsplit task (M counted
    /// on the device), else a sum scaled by the host's 1/M.
    private func chunkSettings(_ task: TaskSettings, spatial: FocalLoss.SpatialWeight, sigmaMap: Bool,
                               divisor: (value: Double, inverse: Double)?, gradientScale: Float) -> FocalLoss {
        let uncertainty: FocalLoss.Uncertainty = sigmaMap ? .perElement([]) : (task.sigma > 0 ? .scalar(task.sigma) : .none)
        guard let divisor else {
            return task.focalLoss(spatial: spatial, uncertainty: uncertainty, gradientScale: gradientScale)
        }
        return task.focalLoss(spatial: spatial, uncertainty: uncertainty,
                              gradientScale: Float(Double(gradientScale) * divisor.inverse), reduction: .sum)
    }

    private func upload<T: BitwiseCopyable>(_ values: [T], _ name: String) throws {
        let buffer = try workspace.buffer(name, T.self, count: values.count)
        try values.withUnsafeBufferPointer { try buffer.write(from: $0, blocking: true) }
    }

    private func record(_ events: [Event], _ stage: Stage, _ prepared: Prepared) throws {
        for event in events { prepared.stageNanoseconds[stage, default: 0] += try event.elapsedNanoseconds() }
    }
}
