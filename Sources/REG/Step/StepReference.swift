/// The step on the float64 CPU reference: the separately composed references (point-to-box
/// distances or the per-class EDT, then the refined focal loss), the engine's fallback and the
/// tests' oracle. Copies the caller's views into arrays (float16 elements widened exactly): it is the
/// slow path. Float16 gradient views get the float64 gradient rounded to float32, then to half.
enum StepReference {
    static func evaluate(_ problem: StepProblem, into gradients: StepGradients) throws -> StepResult {
        try problem.scanElements()
        let lambda = Double(problem.settings.lambda)
        var detection: TaskResult? = nil
        var segmentation: TaskResult? = nil
        if let d = problem.detection {
            let b = d.batch
            var spatial = FocalLoss.SpatialWeight.none
            if let refinement = d.settings.refinement, let boxes = d.boxes {
                spatial = .distances(BoxDistanceReference.distances(boxes).map(Float.init), refinement)
            }
            let settings = d.settings.focalLoss(spatial: spatial, uncertainty: uncertainty(b.sigma, d.settings),
                                                gradientScale: 1)
            let result = try FocalLossReference.focalLoss(detection: b.logits.floats(), targets: b.targets.floats(),
                                                          samples: b.samples, classes: b.classes, settings)
            try write(result, gradients.detectionLogitsView, gradients.detectionSigmaView, "det")
            detection = TaskResult(result)
        }
        if let s = problem.segmentation {
            let b = s.batch
            let labels = Array(b.labels)
            var spatial = FocalLoss.SpatialWeight.none
            if let refinement = s.settings.refinement, !labels.isEmpty {
                let maps = try DistanceTransformReference.distanceTransform(labels: labels, batch: b.batch, height: b.height,
                                                                            width: b.width, classes: b.classes)
                spatial = .distances(maps, refinement)
            }
            let settings = s.settings.focalLoss(spatial: spatial, uncertainty: uncertainty(b.sigma, s.settings),
                                                gradientScale: problem.settings.lambda)
            let result = try FocalLossReference.focalLoss(segmentation: b.logits.floats(), labels: labels, batch: b.batch,
                                                          classes: b.classes, height: b.height, width: b.width, settings)
            try write(result, gradients.segmentationLogitsView, gradients.segmentationSigmaView, "seg")
            segmentation = TaskResult(result)
        }
        return StepResult(total: (detection?.loss ?? 0) + lambda * (segmentation?.loss ?? 0),
                          detection: detection, segmentation: segmentation, backend: .reference)
    }

    static func uncertainty(_ map: FloatView?, _ settings: TaskSettings) -> FocalLoss.Uncertainty {
        if let map { return .perElement(map.floats()) }
        return settings.sigma > 0 ? .scalar(settings.sigma) : .none
    }

    private static func write(_ result: FocalLossResult<Double>, _ logits: MutableFloatView?,
                              _ sigma: MutableFloatView?, _ task: String) throws(InvalidArgument) {
        try StepGradients.requireCount(logits, result.gradient.count, "\(task)_logits_grad")
        logits?.store(result.gradient)
        if let sigma, let values = result.sigmaGradient {
            try StepGradients.requireCount(sigma, values.count, "\(task)_sigma_grad")
            sigma.store(values)
        }
    }
}

extension TaskResult {
    init(_ result: FocalLossResult<Double>) {
        self.init(loss: result.exactLoss, sum: result.sum, count: result.count, positives: result.positives,
                  divisor: result.divisor, sigmaGradient: result.scalarSigmaGradient)
    }
}

extension StepGradients {
    /// Checks the gradient views against `problem`: each present task's logits gradient is given
    /// and holds exactly its elements; a σ gradient (where the task has a σ map) holds as many and
    /// has the element type of the task's logits gradient (the kernels write both in one type).
    func validate(for problem: StepProblem) throws(InvalidArgument) {
        if let d = problem.detection {
            try Self.requireTask(detectionLogitsView, detectionSigmaView, count: d.batch.logits.count,
                                 sigmaMap: d.batch.sigma != nil, "det")
        }
        if let s = problem.segmentation {
            try Self.requireTask(segmentationLogitsView, segmentationSigmaView, count: s.batch.logits.count,
                                 sigmaMap: s.batch.sigma != nil, "seg")
        }
    }

    private static func requireTask(_ logits: MutableFloatView?, _ sigma: MutableFloatView?, count: Int, sigmaMap: Bool,
                                    _ task: String) throws(InvalidArgument) {
        try requireCount(logits, count, "\(task)_logits_grad")
        guard let sigma, sigmaMap else { return }
        try requireCount(sigma, count, "\(task)_sigma_grad")
        if let logits, sigma.precision != logits.precision {
            throw InvalidArgument("\(task)_sigma_grad", "is \(sigma.precision) but \(task)_logits_grad is \(logits.precision); a task's gradients share one element type")
        }
    }

    /// A task's gradient buffer must be given and hold exactly its elements.
    static func requireCount(_ buffer: MutableFloatView?, _ count: Int, _ argument: String) throws(InvalidArgument) {
        guard let buffer else { throw InvalidArgument(argument, "no buffer was given for the gradient (\(count) values)") }
        guard buffer.count == count else {
            throw InvalidArgument(argument, "holds \(buffer.count) values; the gradient has \(count)")
        }
    }
}
