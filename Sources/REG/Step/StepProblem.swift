/// A step's batch and settings, checked before anything reaches a kernel. Errors name the
/// argument as `reg step`'s `.npz` does (`det_logits`, `seg_labels`, …) and the first bad index.
struct StepProblem {
    struct Detection {
        let batch: StepBatch.Detection
        let settings: TaskSettings
        /// Points and boxes as the box-distance routine takes them (nil without refinement).
        let boxes: BoxDistanceProblem?
    }

    struct Segmentation {
        let batch: StepBatch.Segmentation
        let settings: TaskSettings
    }

    let detection: Detection?
    let segmentation: Segmentation?
    let settings: StepSettings

    init(_ batch: StepBatch, _ settings: StepSettings) throws(InvalidArgument) {
        guard settings.lambda.isFinite else { throw InvalidArgument("lambda", "must be finite, got \(settings.lambda)") }
        if let memoryBudget = settings.memoryBudget, memoryBudget < 1 {
            throw InvalidArgument("memoryBudget", "must be at least 1 byte, got \(memoryBudget)")
        }
        self.settings = settings
        detection = try batch.detection.map { d throws(InvalidArgument) in try Self.detection(d, settings.detection) }
        segmentation = try batch.segmentation.map { s throws(InvalidArgument) in
            try Self.segmentation(s, settings.segmentation)
        }
        if settings.validatesElements { try scanElements() }
    }

    // MARK: Shapes and settings

    private static func detection(_ d: StepBatch.Detection, _ settings: TaskSettings) throws(InvalidArgument) -> Detection {
        try requireSize(d.samples, "det_logits", "samples", minimum: 0)
        try requireSize(d.classes, "det_logits", "classes", minimum: 1)
        try requireSize(d.images, "det_points", "images", minimum: 0)
        let elements = try product(d.samples, d.classes, "det_logits")
        try requireCount(d.logits.count, elements, "det_logits", "samples × classes = \(d.samples) × \(d.classes)")
        try requireCount(d.targets.count, elements, "det_targets", "the logits' samples × classes = \(elements)")
        try requireCount(d.points.count, 3 * d.samples, "det_points", "[samples, 3] = [\(d.samples), 3] rows (image, x, y)")
        guard d.boxes.count % 6 == 0 else {
            throw InvalidArgument("det_boxes", "has \(d.boxes.count) values; expected [M, 6] rows (image, class, x1, y1, x2, y2)")
        }
        if let sigma = d.sigma { try requireCount(sigma.count, elements, "det_sigma", "the logits' samples × classes = \(elements)") }
        guard settings.activation == .sigmoid else {
            throw InvalidArgument("det_activation", "detection is multi-label and uses sigmoid; softmax is for segmentation")
        }
        try validate(settings, classes: d.classes, task: "det")
        return Detection(batch: d, settings: settings,
                         boxes: settings.refinement == nil ? nil : try boxDistanceProblem(d))
    }

    private static func segmentation(_ s: StepBatch.Segmentation, _ settings: TaskSettings) throws(InvalidArgument) -> Segmentation {
        for (value, name) in [(s.batch, "batch"), (s.height, "height"), (s.width, "width")] {
            try requireSize(value, "seg_logits", name, minimum: 0)
        }
        try requireSize(s.classes, "seg_logits", "classes", minimum: 1)
        guard s.classes <= LabelMap.maximumClasses else {
            throw InvalidArgument("seg_logits", "has \(s.classes) classes; at most \(LabelMap.maximumClasses) (labels are bytes, 255 means ignore)")
        }
        let pixels = try product(try product(s.batch, s.height, "seg_labels"), s.width, "seg_labels")
        let elements = try product(pixels, s.classes, "seg_logits")
        try requireCount(s.logits.count, elements, "seg_logits", "batch × classes × height × width = \(s.batch) × \(s.classes) × \(s.height) × \(s.width)")
        try requireCount(s.labels.count, pixels, "seg_labels", "the logits' batch × height × width = \(s.batch) × \(s.height) × \(s.width)")
        if let sigma = s.sigma { try requireCount(sigma.count, elements, "seg_sigma", "the logits' element count \(elements)") }
        if settings.activation == .softmax && s.classes < 2 {
            throw InvalidArgument("seg_activation", "softmax needs at least 2 classes, got \(s.classes)")
        }
        if settings.refinement != nil && pixels > 0 {
            for (value, name) in [(s.height, "height"), (s.width, "width")] where value > DistanceTransformProblem.maximumSide {
                throw InvalidArgument("seg_labels", "\(name) must be at most \(DistanceTransformProblem.maximumSide) for the distance transform, got \(value)")
            }
        }
        try validate(settings, classes: s.classes, task: "seg")
        return Segmentation(batch: s, settings: settings)
    }

    private static func validate(_ s: TaskSettings, classes: Int, task: String) throws(InvalidArgument) {
        guard s.gamma.isFinite && s.gamma >= 0 else { throw InvalidArgument("\(task)_gamma", "must be finite and ≥ 0, got \(s.gamma)") }
        guard s.sigma.isFinite && s.sigma >= 0 && s.sigma <= FocalLoss.maximumSigma else {
            throw InvalidArgument("\(task)_sigma", "must be finite and in [0, \(FocalLoss.maximumSigma)], got \(s.sigma)")
        }
        if let alpha = s.alpha {
            guard alpha.count == classes else {
                throw InvalidArgument("\(task)_alpha", "has \(alpha.count) values; expected one per class (\(classes))")
            }
            if let c = alpha.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
                throw InvalidArgument("\(task)_alpha", index: [c], "must be finite and ≥ 0, got \(alpha[c])")
            }
        }
        if let a = s.positiveFraction, !(a >= 0 && a <= 1) {
            throw InvalidArgument("\(task)_pos_fraction", "must be in [0, 1], got \(a)")
        }
        if let r = s.refinement {
            guard r.beta.isFinite else { throw InvalidArgument("\(task)_beta", "must be finite, got \(r.beta)") }
            guard r.delta.isFinite else { throw InvalidArgument("\(task)_delta", "must be finite, got \(r.delta)") }
        }
        if case .given(let m) = s.normalizer, !(m.isFinite && m > 0) {
            throw InvalidArgument("\(task)_normalizer", "a given M must be finite and > 0, got \(m)")
        }
    }

    /// Points and boxes from their rows, each checked: integral image indices in 0..<images, box
    /// classes in 1…C, finite coordinates, x1 ≤ x2 and y1 ≤ y2.
    private static func boxDistanceProblem(_ d: StepBatch.Detection) throws(InvalidArgument) -> BoxDistanceProblem {
        func image(_ value: Float, _ argument: String, _ row: Int) throws(InvalidArgument) -> Int {
            guard value >= 0, value < Float(d.images), value == value.rounded() else {
                throw InvalidArgument(argument, index: [row, 0], "image \(value) is not an image of the batch (0..<\(d.images))")
            }
            return Int(value)
        }
        var points = [SamplePoint]()
        points.reserveCapacity(d.samples)
        for n in 0..<d.samples {
            let row = d.points[(3 * n)..<(3 * n + 3)]
            if let k = row.indices.dropFirst().first(where: { !row[$0].isFinite }) {
                throw InvalidArgument("det_points", index: [n, k - 3 * n], "must be finite, got \(row[k])")
            }
            points.append(SamplePoint(image: try image(row[3 * n], "det_points", n), x: row[3 * n + 1], y: row[3 * n + 2]))
        }
        var boxes = [GroundTruthBox]()
        boxes.reserveCapacity(d.boxes.count / 6)
        for m in 0..<(d.boxes.count / 6) {
            let r = (0..<6).map { d.boxes[6 * m + $0] }
            let classID = r[1]
            guard classID >= 1, classID <= Float(d.classes), classID == classID.rounded() else {
                throw InvalidArgument("det_boxes", index: [m, 1], "class \(classID) is not a class 1…\(d.classes)")
            }
            if let k = (2..<6).first(where: { !r[$0].isFinite }) {
                throw InvalidArgument("det_boxes", index: [m, k], "must be finite, got \(r[k])")
            }
            guard r[4] >= r[2] else { throw InvalidArgument("det_boxes", index: [m, 4], "x2 = \(r[4]) is less than x1 = \(r[2])") }
            guard r[5] >= r[3] else { throw InvalidArgument("det_boxes", index: [m, 5], "y2 = \(r[5]) is less than y1 = \(r[3])") }
            boxes.append(GroundTruthBox(image: try image(r[0], "det_boxes", m), classID: Int(classID),
                                        x1: r[2], y1: r[3], x2: r[4], y2: r[5]))
        }
        return try BoxDistanceProblem(points: points, boxes: boxes, classes: d.classes)
    }

    // MARK: Elements

    /// Throws at the first bad element: logits, targets, labels, σ maps. Run before the kernels
    /// when `validatesElements` is on, and after a kernel flagged an element otherwise.
    func scanElements() throws(InvalidArgument) {
        if let d = detection?.batch {
            let classes = d.classes
            func at(_ i: Int) -> [Int] { [i / classes, i % classes] }
            if let i = d.logits.firstIndex(outside: .finite) {
                throw InvalidArgument("det_logits", index: at(i), "must be finite, got \(d.logits[i])")
            }
            if let i = d.targets.firstIndex(outside: 0...1) {
                throw InvalidArgument("det_targets", index: at(i), "must be in [0, 1], got \(d.targets[i])")
            }
            if let sigma = d.sigma, let i = sigma.firstIndex(outside: 0...FocalLoss.maximumSigma) {
                throw InvalidArgument("det_sigma", index: at(i), "must be finite and in [0, \(FocalLoss.maximumSigma)], got \(sigma[i])")
            }
        }
        if let s = segmentation?.batch {
            let plane = s.height * s.width
            func at(_ i: Int) -> [Int] { [i / (s.classes * plane), (i / plane) % s.classes, (i % plane) / s.width, i % s.width] }
            if let i = s.logits.firstIndex(outside: .finite) {
                throw InvalidArgument("seg_logits", index: at(i), "must be finite, got \(s.logits[i])")
            }
            if let i = s.labels.firstIndex(where: { Int($0) > s.classes && $0 != LabelMap.ignore }) {
                throw InvalidArgument("seg_labels", index: [i / plane, (i % plane) / s.width, i % s.width],
                                      "is \(s.labels[i]); labels are 0 (background), 1…\(s.classes) (classes) or 255 (ignore)")
            }
            if let sigma = s.sigma, let i = sigma.firstIndex(outside: 0...FocalLoss.maximumSigma) {
                throw InvalidArgument("seg_sigma", index: at(i), "must be finite and in [0, \(FocalLoss.maximumSigma)], got \(sigma[i])")
            }
        }
    }

    // MARK: Helpers

    private static func requireSize(_ value: Int, _ argument: String, _ name: String, minimum: Int) throws(InvalidArgument) {
        guard value >= minimum else { throw InvalidArgument(argument, "\(name) must be at least \(minimum), got \(value)") }
    }

    private static func requireCount(_ count: Int, _ expected: Int, _ argument: String, _ what: String) throws(InvalidArgument) {
        guard count == expected else { throw InvalidArgument(argument, "has \(count) values; expected \(what)") }
    }

    private static func product(_ a: Int, _ b: Int, _ argument: String) throws(InvalidArgument) -> Int {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else { throw InvalidArgument(argument, "\(a) × \(b) elements do not fit in memory addresses") }
        return p
    }
}

extension TaskSettings {
    /// The focal-loss settings of this task with `spatial` and `uncertainty` chosen by the caller
    /// (their arrays or the device buffers that stand for them).
    func focalLoss(spatial: FocalLoss.SpatialWeight, uncertainty: FocalLoss.Uncertainty, gradientScale: Float,
                   reduction: FocalLoss.Reduction = .mean) -> FocalLoss {
        FocalLoss(activation: activation, alpha: alpha, positiveFraction: positiveFraction, gamma: gamma, spatial: spatial,
                  uncertainty: uncertainty, gradientScale: gradientScale, reduction: reduction, normalizer: normalizer)
    }
}

extension StepProblem.Detection {
    /// M of this task counted on the host: for a task split into chunks or across devices.
    func hostDivisor() -> (value: Double, inverse: Double) {
        var positives = 0
        if settings.normalizer == .positives {
            for n in 0..<batch.samples where (0..<batch.classes).contains(where: { batch.targets[n * batch.classes + $0] > 0 }) {
                positives += 1
            }
        }
        return FocalLoss(normalizer: settings.normalizer).divisor(count: batch.samples, positives: positives)
    }
}

extension StepProblem.Segmentation {
    /// M of this task counted on the host: for a task split into chunks or across devices.
    func hostDivisor() -> (value: Double, inverse: Double) {
        var count = 0, positives = 0
        for label in batch.labels where label != LabelMap.ignore {
            count += 1
            if label >= 1 && Int(label) <= batch.classes { positives += 1 }
        }
        return FocalLoss(normalizer: settings.normalizer).divisor(count: count, positives: positives)
    }
}
