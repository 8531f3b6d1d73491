import CREGAPI
import REG

// The single operations over REG's array API: the inputs are copied once into arrays and the
// results copied into the caller's buffers (include/reg.h, "Copies").

@_cdecl("reg_focal_loss_detection")
public func regFocalLossDetection(_ handle: OpaquePointer?, _ logits: reg_floats, _ targets: reg_floats,
                                  _ samples: Int, _ classes: Int, _ distances: reg_floats, _ sigma: reg_floats,
                                  _ settings: UnsafePointer<reg_task_settings>?, _ reduction: Int32,
                                  _ gradient: reg_floats_mut, _ elementLoss: reg_floats_mut,
                                  _ sigmaGradient: reg_floats_mut, _ result: UnsafeMutablePointer<reg_focal_result>?,
                                  _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    status(message, capacity) {
        let engine = try engine(handle)
        let samples = try size(samples, "samples"), classes = try size(classes, "classes")
        let outputs = try FocalOutputs(result, try view(gradient, "gradient").map(MutableFloatView.float32), elementLoss,
                                       try view(sigmaGradient, "sigma_gradient").map(MutableFloatView.float32), reduction)
        if let n = product(samples, classes) { try outputs.check(elements: n) }
        let focal = try focalSettings(settings, distances, sigma, reduction)
        let r = try engine.focalLoss(detection: Array(try required(logits, "logits")),
                                     targets: Array(try required(targets, "targets")),
                                     samples: samples, classes: classes, focal)
        outputs.write(r)
    }
}

@_cdecl("reg_focal_loss_detection_typed")
public func regFocalLossDetectionTyped(_ handle: OpaquePointer?, _ logits: reg_tensor, _ targets: reg_tensor,
                                       _ samples: Int, _ classes: Int, _ distances: reg_floats, _ sigma: reg_floats,
                                       _ settings: UnsafePointer<reg_task_settings>?, _ reduction: Int32,
                                       _ gradient: reg_tensor_mut, _ elementLoss: reg_floats_mut,
                                       _ sigmaGradient: reg_tensor_mut,
                                       _ result: UnsafeMutablePointer<reg_focal_result>?,
                                       _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    status(message, capacity) {
        let engine = try engine(handle)
        let samples = try size(samples, "samples"), classes = try size(classes, "classes")
        let outputs = try FocalOutputs(result, try view(gradient, "gradient"), elementLoss,
                                       try view(sigmaGradient, "sigma_gradient"), reduction)
        if let n = product(samples, classes) { try outputs.check(elements: n) }
        let focal = try focalSettings(settings, distances, sigma, reduction)
        let z = try required(logits, "logits"), y = try required(targets, "targets")
        let r: FocalLossResult<Float>
        if case .float16(let halfLogits) = z, case .float16(let halfTargets) = y {
            r = try engine.focalLoss(detection: Array(halfLogits), targets: Array(halfTargets), samples: samples,
                                     classes: classes, focal, gradient: outputs.gradientPrecision)
        } else {
            // One of them float32: both widened (exactly), as the kernels widen halves themselves.
            r = try engine.focalLoss(detection: z.floats(), targets: y.floats(), samples: samples, classes: classes, focal,
                                     gradient: outputs.gradientPrecision)
        }
        outputs.write(r)
    }
}

@_cdecl("reg_focal_loss_segmentation")
public func regFocalLossSegmentation(_ handle: OpaquePointer?, _ logits: reg_floats, _ labels: reg_labels,
                                     _ batch: Int, _ classes: Int, _ height: Int, _ width: Int,
                                     _ distances: reg_floats, _ sigma: reg_floats,
                                     _ settings: UnsafePointer<reg_task_settings>?, _ reduction: Int32,
                                     _ gradient: reg_floats_mut, _ elementLoss: reg_floats_mut,
                                     _ sigmaGradient: reg_floats_mut, _ result: UnsafeMutablePointer<reg_focal_result>?,
                                     _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    status(message, capacity) {
        let engine = try engine(handle)
        let batch = try size(batch, "batch"), classes = try size(classes, "classes")
        let height = try size(height, "height"), width = try size(width, "width")
        let outputs = try FocalOutputs(result, try view(gradient, "gradient").map(MutableFloatView.float32), elementLoss,
                                       try view(sigmaGradient, "sigma_gradient").map(MutableFloatView.float32), reduction)
        if let n = product(batch, classes, height, width) { try outputs.check(elements: n) }
        let focal = try focalSettings(settings, distances, sigma, reduction)
        let r = try engine.focalLoss(segmentation: Array(try required(logits, "logits")),
                                     labels: Array(try required(labels, "labels")), batch: batch, classes: classes,
                                     height: height, width: width, focal)
        outputs.write(r)
    }
}

@_cdecl("reg_focal_loss_segmentation_typed")
public func regFocalLossSegmentationTyped(_ handle: OpaquePointer?, _ logits: reg_tensor, _ labels: reg_labels,
                                          _ batch: Int, _ classes: Int, _ height: Int, _ width: Int,
                                          _ distances: reg_floats, _ sigma: reg_floats,
                                          _ settings: UnsafePointer<reg_task_settings>?, _ reduction: Int32,
                                          _ gradient: reg_tensor_mut, _ elementLoss: reg_floats_mut,
                                          _ sigmaGradient: reg_tensor_mut,
                                          _ result: UnsafeMutablePointer<reg_focal_result>?,
                                          _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    status(message, capacity) {
        let engine = try engine(handle)
        let batch = try size(batch, "batch"), classes = try size(classes, "classes")
        let height = try size(height, "height"), width = try size(width, "width")
        let outputs = try FocalOutputs(result, try view(gradient, "gradient"), elementLoss,
                                       try view(sigmaGradient, "sigma_gradient"), reduction)
        if let n = product(batch, classes, height, width) { try outputs.check(elements: n) }
        let focal = try focalSettings(settings, distances, sigma, reduction)
        let labelBytes = Array(try required(labels, "labels"))
        var r: FocalLossResult<Float>
        switch try required(logits, "logits") {
        case .float16(let halves):
            r = try engine.focalLoss(segmentation: Array(halves), labels: labelBytes, batch: batch, classes: classes,
                                     height: height, width: width, focal, gradient: outputs.gradientPrecision)
        case .float32(let floats):
            // Float16 gradients of float32 logits: the float32 gradients rounded to nearest even, as
            // a kernel writing float16 rounds them (in `outputs.write`).
            r = try engine.focalLoss(segmentation: Array(floats), labels: labelBytes, batch: batch, classes: classes,
                                     height: height, width: width, focal)
        }
        outputs.write(r)
    }
}

/// `FocalLoss` from the C settings, the optional distances and σ map, and the reduction.
private func focalSettings(_ settings: UnsafePointer<reg_task_settings>?, _ distances: reg_floats, _ sigma: reg_floats,
                           _ reduction: Int32) throws(InvalidArgument) -> FocalLoss {
    var c = reg_task_settings.defaults
    if let settings { c = settings.pointee } else { c.refinement = 0 }
    let task = try c.taskSettings("")
    let spatial: FocalLoss.SpatialWeight
    switch (try view(distances, "distances"), task.refinement) {
    case (nil, nil): spatial = .none
    case (let d?, let r?): spatial = .distances(Array(d), r)
    case (nil, _?): throw InvalidArgument("distances", "are required when settings.refinement is on (one per logit)")
    case (_?, nil): throw InvalidArgument("distances", "are given but settings.refinement is off")
    }
    let uncertainty: FocalLoss.Uncertainty
    if let map = try view(sigma, "sigma") {
        uncertainty = .perElement(Array(map))
    } else {
        // A σ of 0 is no uncertainty (as in the step); anything else, NaN included, reaches REG's check.
        uncertainty = c.sigma == 0 ? .none : .scalar(c.sigma)
    }
    let r: FocalLoss.Reduction
    switch reduction {
    case REG_REDUCTION_MEAN: r = .mean
    case REG_REDUCTION_SUM: r = .sum
    case REG_REDUCTION_NONE: r = .none
    default: throw InvalidArgument("reduction", "is \(reduction); expected REG_REDUCTION_MEAN (0), _SUM (1) or _NONE (2)")
    }
    return FocalLoss(activation: task.activation, alpha: task.alpha, positiveFraction: task.positiveFraction,
                     gamma: task.gamma, spatial: spatial, uncertainty: uncertainty, reduction: r,
                     normalizer: task.normalizer)
}

/// The caller's output buffers of a focal-loss call, checked before the call; counts are checked
/// against the result (which has the logits' element count) after it.
private struct FocalOutputs {
    let result: UnsafeMutablePointer<reg_focal_result>
    let gradient: MutableFloatView?
    let elementLoss: UnsafeMutableBufferPointer<Float>?
    let sigmaGradient: MutableFloatView?

    init(_ result: UnsafeMutablePointer<reg_focal_result>?, _ gradient: MutableFloatView?, _ elementLoss: reg_floats_mut,
         _ sigmaGradient: MutableFloatView?, _ reduction: Int32) throws(InvalidArgument) {
        guard let result else { throw InvalidArgument("result", "is NULL") }
        result.pointee = reg_focal_result()
        self.result = result
        self.gradient = gradient
        self.elementLoss = try view(elementLoss, "element_loss")
        self.sigmaGradient = sigmaGradient
        if reduction == REG_REDUCTION_NONE && self.elementLoss == nil {
            throw InvalidArgument("element_loss", "is required under REG_REDUCTION_NONE (one per logit)")
        }
        if reduction != REG_REDUCTION_NONE && self.elementLoss != nil {
            throw InvalidArgument("element_loss", "is written only under REG_REDUCTION_NONE; pass an empty view")
        }
        if let gradient, let sigmaGradient, sigmaGradient.precision != gradient.precision {
            throw InvalidArgument("sigma_gradient", "is \(sigmaGradient.precision) but gradient is \(gradient.precision); the two share one element type")
        }
    }

    /// The element type the gradients are computed in (float32 without a gradient buffer).
    var gradientPrecision: FloatPrecision { gradient?.precision ?? .float32 }

    /// Counts against the logits' element count `n`, checked before the loss is computed.
    func check(elements n: Int) throws(InvalidArgument) {
        guard (gradient?.count ?? 0) == n else {
            throw InvalidArgument("gradient", "has \(gradient?.count ?? 0) values; expected \(n) (one per logit)")
        }
        if let e = elementLoss, e.count != n {
            throw InvalidArgument("element_loss", "has \(e.count) values; expected \(n) (one per logit)")
        }
        if let s = sigmaGradient, s.count != n {
            throw InvalidArgument("sigma_gradient", "has \(s.count) values; expected \(n) (one per logit)")
        }
    }

    func write(_ r: FocalLossResult<Float>) {
        if let gradient { copy(r.gradient, into: gradient) }
        if let elementLoss, let values = r.elementLoss { copy(values, into: elementLoss) }
        if let sigmaGradient, let values = r.sigmaGradient { copy(values, into: sigmaGradient) }
        var c = reg_focal_result()
        c.loss = r.exactLoss
        c.sum = r.sum
        c.count = Int64(r.count)
        c.positives = Int64(r.positives)
        c.divisor = r.divisor
        if let s = r.scalarSigmaGradient {
            c.has_sigma_gradient = 1
            c.sigma_gradient = Double(s)
        }
        c.backend = backendCode(r.backend)
        result.pointee = c
    }
}

@_cdecl("reg_distance_transform")
public func regDistanceTransform(_ handle: OpaquePointer?, _ labels: reg_labels, _ batch: Int, _ height: Int,
                                 _ width: Int, _ classes: Int, _ spacingY: Float, _ spacingX: Float, _ squared: Int32,
                                 _ distances: reg_floats_mut, _ backend: UnsafeMutablePointer<Int32>?,
                                 _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    status(message, capacity) {
        let engine = try engine(handle)
        let batch = try size(batch, "batch"), height = try size(height, "height")
        let width = try size(width, "width"), classes = try size(classes, "classes")
        let labels = Array(try required(labels, "labels"))
        var out: UnsafeMutableBufferPointer<Float>?
        if let n = product(batch, classes, height, width) { out = try output(distances, n, "distances") }
        let (maps, used) = try engine.reporting { engine in
            try engine.distanceTransform(labels: labels, batch: batch, height: height, width: width, classes: classes,
                                         spacing: PixelSpacing(y: spacingY, x: spacingX), squared: squared != 0)
        }
        copy(maps, into: try out ?? output(distances, maps.count, "distances"))
        backend?.pointee = backendCode(used)
    }
}

@_cdecl("reg_box_distances")
public func regBoxDistances(_ handle: OpaquePointer?, _ points: reg_floats, _ boxes: reg_floats, _ classes: Int,
                            _ distances: reg_floats_mut, _ backend: UnsafeMutablePointer<Int32>?,
                            _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    status(message, capacity) {
        let engine = try engine(handle)
        let classes = try size(classes, "classes")
        let rows = try required(points, "points"), boxRows = try required(boxes, "boxes")
        guard rows.count % 3 == 0 else {
            throw InvalidArgument("points", "has \(rows.count) values; expected [N, 3] rows (image, x, y)")
        }
        guard boxRows.count % 6 == 0 else {
            throw InvalidArgument("boxes", "has \(boxRows.count) values; expected [M, 6] rows (image, class, x1, y1, x2, y2)")
        }
        let samplePoints = try (0..<(rows.count / 3)).map { n throws(InvalidArgument) in
            SamplePoint(image: try wholeNumber(rows[3 * n], "points", [n, 0], "image"), x: rows[3 * n + 1], y: rows[3 * n + 2])
        }
        let groundTruth = try (0..<(boxRows.count / 6)).map { m throws(InvalidArgument) in
            let r = boxRows[(6 * m)..<(6 * m + 6)].map { $0 }
            return GroundTruthBox(image: try wholeNumber(r[0], "boxes", [m, 0], "image"),
                                  classID: try wholeNumber(r[1], "boxes", [m, 1], "class"),
                                  x1: r[2], y1: r[3], x2: r[4], y2: r[5])
        }
        var out: UnsafeMutableBufferPointer<Float>?
        if let n = product(samplePoints.count, classes) { out = try output(distances, n, "distances") }
        let (values, used) = try engine.reporting { engine in
            try engine.boxDistances(points: samplePoints, boxes: groundTruth, classes: classes)
        }
        copy(values, into: try out ?? output(distances, values.count, "distances"))
        backend?.pointee = backendCode(used)
    }
}

/// An image index or class id given as a float: a whole number in 0..<2^31 (REG then checks
/// its range: images ≥ 0, classes 1…C).
private func wholeNumber(_ value: Float, _ argument: String, _ index: [Int], _ what: String) throws(InvalidArgument) -> Int {
    guard value >= 0, value < 2_147_483_648, value == value.rounded() else {
        throw InvalidArgument(argument, index: index, "\(what) \(value) is not a whole number in 0..<2^31")
    }
    return Int(value)
}

@_cdecl("reg_refine")
public func regRefine(_ handle: OpaquePointer?, _ distances: reg_floats, _ beta: Float, _ delta: Float,
                      _ weights: reg_floats_mut, _ backend: UnsafeMutablePointer<Int32>?,
                      _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    status(message, capacity) {
        let engine = try engine(handle)
        let d = Array(try required(distances, "distances"))
        let out = try output(weights, d.count, "weights")
        let (g, used) = try engine.reporting { engine in try engine.refine(distances: d, Refinement(beta: beta, delta: delta)) }
        copy(g, into: out)
        backend?.pointee = backendCode(used)
    }
}
