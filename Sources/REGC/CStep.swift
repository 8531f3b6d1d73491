import CREGAPI
import REG

// reg_step and reg_step_typed: Engine.step over views of the caller's memory (no copy of the
// batch; the gradients are written into the caller's buffers, float16 ones included). reg_step is
// reg_step_typed with float32 tensors.

@_cdecl("reg_step")
public func regStep(_ handle: OpaquePointer?, _ detection: UnsafePointer<reg_detection_batch>?,
                    _ segmentation: UnsafePointer<reg_segmentation_batch>?, _ settings: UnsafePointer<reg_step_settings>?,
                    _ gradients: UnsafePointer<reg_step_gradients>?, _ result: UnsafeMutablePointer<reg_step_result>?,
                    _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    // reg_step_typed with every array a REG_FLOAT32 tensor.
    withOptionalPointer(to: detection.map { reg_detection_batch_typed(float32: $0.pointee) }) { detection in
        withOptionalPointer(to: segmentation.map { reg_segmentation_batch_typed(float32: $0.pointee) }) { segmentation in
            withOptionalPointer(to: gradients.map { reg_step_gradients_typed(float32: $0.pointee) }) { gradients in
                regStepTyped(handle, detection, segmentation, settings, gradients, result, message, capacity)
            }
        }
    }
}

@_cdecl("reg_step_typed")
public func regStepTyped(_ handle: OpaquePointer?, _ detection: UnsafePointer<reg_detection_batch_typed>?,
                         _ segmentation: UnsafePointer<reg_segmentation_batch_typed>?,
                         _ settings: UnsafePointer<reg_step_settings>?, _ gradients: UnsafePointer<reg_step_gradients_typed>?,
                         _ result: UnsafeMutablePointer<reg_step_result>?, _ message: UnsafeMutablePointer<CChar>?,
                         _ capacity: Int) -> Int32 {
    status(message, capacity) {
        try step(handle, settings, result) {
            var batch = StepBatch()
            if let d = detection?.pointee {
                batch.detection = StepBatch.Detection(
                    logits: try required(d.logits, "det_logits"), targets: try required(d.targets, "det_targets"),
                    points: try required(d.points, "det_points"), boxes: try required(d.boxes, "det_boxes"),
                    sigma: try view(d.sigma, "det_sigma"), samples: try size(d.samples, "det_logits samples"),
                    classes: try size(d.classes, "det_logits classes"), images: try size(d.images, "det_points images"))
            }
            if let s = segmentation?.pointee {
                batch.segmentation = StepBatch.Segmentation(
                    logits: try required(s.logits, "seg_logits"), labels: try required(s.labels, "seg_labels"),
                    sigma: try view(s.sigma, "seg_sigma"), batch: try size(s.batch, "seg_logits batch"),
                    classes: try size(s.classes, "seg_logits classes"), height: try size(s.height, "seg_logits height"),
                    width: try size(s.width, "seg_logits width"))
            }
            var out = StepGradients()
            if let g = gradients?.pointee {
                out.detectionLogitsView = try view(g.detection_logits, "det_logits_grad")
                out.detectionSigmaView = try view(g.detection_sigma, "det_sigma_grad")
                out.segmentationLogitsView = try view(g.segmentation_logits, "seg_logits_grad")
                out.segmentationSigmaView = try view(g.segmentation_sigma, "seg_sigma_grad")
            }
            return (batch, out)
        }
    }
}

/// The step of both entry points: the engine, the settings and the result from C, the batch and
/// gradients from `views`.
private func step(_ handle: OpaquePointer?, _ settings: UnsafePointer<reg_step_settings>?,
                  _ result: UnsafeMutablePointer<reg_step_result>?,
                  _ views: () throws -> (StepBatch, StepGradients)) throws {
    let engine = try engine(handle)
    guard let result else { throw InvalidArgument("result", "is NULL") }
    result.pointee = reg_step_result()
    var c = reg_step_settings()
    if let settings { c = settings.pointee } else { _ = regStepSettingsInit(&c) }
    let stepSettings = StepSettings(
        detection: try c.detection.taskSettings("det_"), segmentation: try c.segmentation.taskSettings("seg_"),
        lambda: c.lambda, validatesElements: c.validate_elements != 0,
        memoryBudget: c.memory_budget == 0 ? nil : Int(c.memory_budget))
    let (batch, gradients) = try views()
    let step = try engine.step(batch, stepSettings, into: gradients)
    var r = reg_step_result()
    r.total = step.total
    r.detection = taskResult(step.detection)
    r.segmentation = taskResult(step.segmentation)
    r.backend = backendCode(step.backend)
    result.pointee = r
}

private func taskResult(_ task: TaskResult?) -> reg_task_result {
    var r = reg_task_result()
    guard let task else { return r }
    r.present = 1
    r.loss = task.loss
    r.sum = task.sum
    r.count = Int64(task.count)
    r.positives = Int64(task.positives)
    r.divisor = task.divisor
    if let s = task.sigmaGradient {
        r.has_sigma_gradient = 1
        r.sigma_gradient = s
    }
    return r
}

/// `body` with a pointer to `value`, or nil.
private func withOptionalPointer<T, R>(to value: T?, _ body: (UnsafePointer<T>?) -> R) -> R {
    guard let value else { return body(nil) }
    return withUnsafePointer(to: value) { body($0) }
}

extension reg_tensor {
    init(float32 floats: reg_floats) { self.init(data: UnsafeRawPointer(floats.data), count: floats.count, dtype: REG_FLOAT32) }
}

extension reg_tensor_mut {
    init(float32 floats: reg_floats_mut) {
        self.init(data: UnsafeMutableRawPointer(floats.data), count: floats.count, dtype: REG_FLOAT32)
    }
}

extension reg_detection_batch_typed {
    init(float32 d: reg_detection_batch) {
        self.init(logits: reg_tensor(float32: d.logits), targets: reg_tensor(float32: d.targets), points: d.points,
                  boxes: d.boxes, sigma: reg_tensor(float32: d.sigma), samples: d.samples, classes: d.classes, images: d.images)
    }
}

extension reg_segmentation_batch_typed {
    init(float32 s: reg_segmentation_batch) {
        self.init(logits: reg_tensor(float32: s.logits), labels: s.labels, sigma: reg_tensor(float32: s.sigma), batch: s.batch,
                  classes: s.classes, height: s.height, width: s.width)
    }
}

extension reg_step_gradients_typed {
    init(float32 g: reg_step_gradients) {
        self.init(detection_logits: reg_tensor_mut(float32: g.detection_logits),
                  detection_sigma: reg_tensor_mut(float32: g.detection_sigma),
                  segmentation_logits: reg_tensor_mut(float32: g.segmentation_logits),
                  segmentation_sigma: reg_tensor_mut(float32: g.segmentation_sigma))
    }
}
