extension Engine {
    /// One training step: L_total = L_det + λ · L_seg and its gradients, written into the caller's
    /// memory (see `Step`). On the device the whole pipeline (distances, refinement, focal loss)
    /// stays there; a device failure recomputes the step on the reference with one warning, and
    /// the result says which backend computed it.
    ///
    /// - Throws: `InvalidArgument` naming the argument (`det_logits`, `seg_labels`, …) and the
    ///   first bad index, before anything reaches a kernel; `OutOfMemory` when one sample or
    ///   image does not fit the memory budget.
    public func step(_ batch: StepBatch, _ settings: StepSettings = StepSettings(),
                     into gradients: StepGradients) throws -> StepResult {
        let problem = try StepProblem(batch, settings)
        try gradients.validate(for: problem)
        let call = StepCall(problem: problem, gradients: gradients)
        var (result, backend) = try run("step", on: StepRoutine.self, call, memory: Self.hostNeeds(problem)) {
            try StepReference.evaluate(problem, into: gradients)
        }
        result.backend = backend
        return result
    }

    /// The step on arrays: the `[Float]` convenience over `step(_:_:into:)`.
    public func step(_ arrays: StepArrays, _ settings: StepSettings = StepSettings()) throws -> StepOutput {
        try StepOutput(arrays) { batch, gradients in try step(batch, settings, into: gradients) }
    }

    /// Host memory the step allocates itself (the reference's float64 arrays; the device path
    /// writes into the caller's memory and needs only the grouped points and boxes, and float32
    /// copies of float16 σ maps).
    private static func hostNeeds(_ problem: StepProblem) -> MemoryNeeds {
        let det = problem.detection.map { $0.batch.logits.count } ?? 0
        let seg = problem.segmentation.map { $0.batch.logits.count } ?? 0
        let points = problem.detection.map { 12 * $0.batch.samples } ?? 0
        var halfSigma = 0
        if problem.detection?.batch.sigma?.precision == .float16 { halfSigma += 4 * det }
        if problem.segmentation?.batch.sigma?.precision == .float16 { halfSigma += 4 * seg }
        return MemoryNeeds(hostBytes: points + halfSigma, referenceHostBytes: MemoryNeeds.doubles(6 * (det + seg)),
                           deviceBytes: 0, largestBuffer: 0, remedy: "use a smaller batch per step")
    }
}

/// A step's batch as arrays (row-major; see `StepBatch` for the layouts).
public struct StepArrays: Sendable {
    public struct Detection: Sendable {
        public var logits: [Float]
        public var targets: [Float]
        /// `[samples, 3]` rows (image, x, y).
        public var points: [Float]
        /// `[M, 6]` rows (image, class, x1, y1, x2, y2).
        public var boxes: [Float]
        public var sigma: [Float]?
        public var samples: Int
        public var classes: Int
        public var images: Int

        public init(logits: [Float], targets: [Float], points: [Float], boxes: [Float], sigma: [Float]? = nil,
                    samples: Int, classes: Int, images: Int) {
            self.logits = logits
            self.targets = targets
            self.points = points
            self.boxes = boxes
            self.sigma = sigma
            self.samples = samples
            self.classes = classes
            self.images = images
        }
    }

    public struct Segmentation: Sendable {
        public var logits: [Float]
        public var labels: [UInt8]
        public var sigma: [Float]?
        public var batch: Int
        public var classes: Int
        public var height: Int
        public var width: Int

        public init(logits: [Float], labels: [UInt8], sigma: [Float]? = nil, batch: Int, classes: Int, height: Int,
                    width: Int) {
            self.logits = logits
            self.labels = labels
            self.sigma = sigma
            self.batch = batch
            self.classes = classes
            self.height = height
            self.width = width
        }
    }

    public var detection: Detection?
    public var segmentation: Segmentation?

    public init(detection: Detection? = nil, segmentation: Segmentation? = nil) {
        self.detection = detection
        self.segmentation = segmentation
    }

    /// `body` with views of these arrays.
    func withBatch<R>(_ body: (StepBatch) throws -> R) rethrows -> R {
        try Self.withOptional(detection?.logits) { detLogits in
            try Self.withOptional(detection?.targets) { detTargets in
                try Self.withOptional(detection?.points) { points in
                    try Self.withOptional(detection?.boxes) { boxes in
                        try Self.withOptional(detection?.sigma) { detSigma in
                            try Self.withOptional(segmentation?.logits) { segLogits in
                                try Self.withOptional(segmentation?.sigma) { segSigma in
                                    try (segmentation?.labels ?? []).withUnsafeBufferPointer { labels in
                                        var batch = StepBatch()
                                        if let d = detection {
                                            batch.detection = StepBatch.Detection(
                                                logits: detLogits!, targets: detTargets!, points: points!, boxes: boxes!,
                                                sigma: detSigma, samples: d.samples, classes: d.classes, images: d.images)
                                        }
                                        if let s = segmentation {
                                            batch.segmentation = StepBatch.Segmentation(
                                                logits: segLogits!, labels: labels, sigma: segSigma, batch: s.batch,
                                                classes: s.classes, height: s.height, width: s.width)
                                        }
                                        return try body(batch)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static func withOptional<R>(_ array: [Float]?, _ body: (UnsafeBufferPointer<Float>?) throws -> R) rethrows -> R {
        guard let array else { return try body(nil) }
        return try array.withUnsafeBufferPointer { try body($0) }
    }
}

/// What `Engine.step(_:_:)` on arrays returns: the result and the gradients of L_total.
public struct StepOutput: Sendable {
    public var result: StepResult
    /// ∂L_total/∂ det logits, `[samples, classes]` (empty without detection).
    public var detectionGradient: [Float]
    /// ∂L_total/∂ det σ map, where the batch has one.
    public var detectionSigmaGradient: [Float]?
    /// ∂L_total/∂ seg logits = λ · ∂L_seg/∂ seg logits, `[batch, classes, height, width]`.
    public var segmentationGradient: [Float]
    public var segmentationSigmaGradient: [Float]?

    /// Runs `step` on views of `arrays` and of new gradient arrays: the arrays convenience of
    /// `Engine` and `EngineGroup`.
    init(_ arrays: StepArrays, step: (StepBatch, StepGradients) throws -> StepResult) rethrows {
        self.init(arrays)
        let result = try arrays.withBatch { batch in try withGradients { gradients in try step(batch, gradients) } }
        self.result = result
    }

    init(_ arrays: StepArrays) {
        result = StepResult(total: 0, detection: nil, segmentation: nil, backend: .reference)
        detectionGradient = [Float](repeating: 0, count: arrays.detection?.logits.count ?? 0)
        detectionSigmaGradient = arrays.detection?.sigma.map { [Float](repeating: 0, count: $0.count) }
        segmentationGradient = [Float](repeating: 0, count: arrays.segmentation?.logits.count ?? 0)
        segmentationSigmaGradient = arrays.segmentation?.sigma.map { [Float](repeating: 0, count: $0.count) }
    }

    mutating func withGradients<R>(_ body: (StepGradients) throws -> R) rethrows -> R {
        try detectionGradient.withUnsafeMutableBufferPointer { det in
            try segmentationGradient.withUnsafeMutableBufferPointer { seg in
                try Self.withOptional(&detectionSigmaGradient) { detSigma in
                    try Self.withOptional(&segmentationSigmaGradient) { segSigma in
                        try body(StepGradients(detectionLogits: det, detectionSigma: detSigma, segmentationLogits: seg,
                                               segmentationSigma: segSigma))
                    }
                }
            }
        }
    }

    private static func withOptional<R>(_ array: inout [Float]?,
                                        _ body: (UnsafeMutableBufferPointer<Float>?) throws -> R) rethrows -> R {
        guard array != nil else { return try body(nil) }
        return try array!.withUnsafeMutableBufferPointer { try body($0) }
    }
}
