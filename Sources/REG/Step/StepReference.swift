/// The step on the float64 CPU reference: the separately composed references (point-to-box
/// distances or the per-class EDT, then the refined focal loss), the engine's fallback and the
/// tests' oracle. Copies the caller's views into arrays: it is the slow path.
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
            let result = try FocalLossReference.focalLoss(detection: Array(b.logits), targets: Array(b.targets),
                                                          samples: b.samples, classes: b.classes, settings)
            try write(result, gradients.detectionLogits, gradients.detectionSigma, "det")
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
            let result = try FocalLossReference.focalLoss(segmentation: Array(b.logits), labels: labels, batch: b.batch,
                                                          classes: b.classes, height: b.height, width: b.width, settings)
            try write(result, gradients.segmentationLogits, gradients.segmentationSigma, "seg")
            segmentation = TaskResult(result)
        }
        return StepResult(total: (detection?.loss ?? 0) + lambda * (segmentation?.loss ?? 0),
                          detection: detection, segmentation: segmentation, backend: .reference)
    }

    static func uncertainty(_ map: UnsafeBufferPointer<Float>?, _ settings: TaskSettings) -> FocalLoss.Uncertainty {
        if let map { return .perElement(Array(map)) }
        return settings.sigma > 0 ? .scalar(settings.sigma) : .none
    }

    private static func write(_ result: FocalLossResult<Double>, _ logits: UnsafeMutableBufferPointer<Float>?,
                              _ sigma: UnsafeMutableBufferPointer<Float>?, _ task: String) throws(InvalidArgument) {
        try StepGradients.requireCount(logits, result.gradient.count, "\(task)_logits_grad")
        if let logits { for i in result.gradient.indices { logits[i] = Float(result.gradient[i]) } }
        if let sigma, let values = result.sigmaGradient {
            try StepGradients.requireCount(sigma, values.count, "\(task)_sigma_grad")
            for i in values.indices { sigma[i] = Float(values[i]) }
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
    /// A task's gradient buffer must be given and hold exactly its elements.
    static func requireCount(_ buffer: UnsafeMutableBufferPointer<Float>?, _ count: Int,
                             _ argument: String) throws(InvalidArgument) {
        guard let buffer else { throw InvalidArgument(argument, "no buffer was given for the gradient (\(count) values)") }
        guard buffer.count == count else {
            throw InvalidArgument(argument, "holds \(buffer.count) values; the gradient has \(count)")
        }
    }
}
