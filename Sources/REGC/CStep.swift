import CREGAPI
import REG

// reg_step and reg_step_typed: Engine.step over views of the caller's memory (no copy of the
// batch; the gradients are written into the caller's buffers, float16 ones included).

@_cdecl("reg_step")
public func regStep(_ handle: OpaquePointer?, _ detection: UnsafePointer<reg_detection_batch>?,
                    _ segmentation: UnsafePointer<reg_segmentation_batch>?, _ settings: UnsafePointer<reg_step_settings>?,
                    _ gradients: UnsafePointer<reg_step_gradients>?, _ result: UnsafeMutablePointer<reg_step_result>?,
                    _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
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
                out.detectionLogits = try view(g.detection_logits, "det_logits_grad")
                out.detectionSigma = try view(g.detection_sigma, "det_sigma_grad")
                out.segmentationLogits = try view(g.segmentation_logits, "seg_logits_grad")
                out.segmentationSigma = try view(g.segmentation_sigma, "seg_sigma_grad")
            }
            return (batch, out)
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
