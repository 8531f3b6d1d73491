/// One training step of the paper's joint loss (docs/math.md §5):
///
///     L_total = L_det + λ · L_seg
///
/// with each task's refined focal loss, its distances computed from the ground truth inside the
/// step (point-to-box for detection, the per-class EDT of the label map for segmentation), and
/// the gradients of L_total for both logit tensors. Either task may be absent.
///
/// The step reads the caller's memory (`StepBatch`'s buffers, valid for the duration of the call)
/// and writes gradients into the caller's memory (`StepGradients`): a binding passes NumPy or
/// PyTorch memory without a host copy. `Engine.step(_:_:)` with `StepArrays` is the `[Float]`
/// convenience over it.
public enum Step {}

/// The settings of one task's loss in a step.
public struct TaskSettings: Sendable, Equatable {
    /// α_c per class (finite, ≥ 0; one per class); nil means 1 for every class.
    public var alpha: [Float]?
    /// The focusing parameter γ ≥ 0.
    public var gamma: Float
    /// g = σ(β(d − δ)) from the distances the step computes; nil: no refinement (g ≡ 1).
    public var refinement: Refinement?
    /// One σ for every logit (≥ 0); a per-element map comes with the batch instead.
    public var sigma: Float
    /// `sigmoid` (both tasks) or `softmax` (segmentation only, C ≥ 2).
    public var activation: FocalLoss.Activation
    /// torchvision's split a ∈ [0, 1]; nil: off.
    public var positiveFraction: Float?
    /// M of the task's mean.
    public var normalizer: FocalLoss.Normalizer

    public init(alpha: [Float]? = nil, gamma: Float = 2, refinement: Refinement? = Refinement(beta: 0.5, delta: 8),
                sigma: Float = 0, activation: FocalLoss.Activation = .sigmoid, positiveFraction: Float? = nil,
                normalizer: FocalLoss.Normalizer = .samples) {
        self.alpha = alpha
        self.gamma = gamma
        self.refinement = refinement
        self.sigma = sigma
        self.activation = activation
        self.positiveFraction = positiveFraction
        self.normalizer = normalizer
    }
}

/// The settings of a step: each task's loss, the joint weight λ, and how the step runs.
public struct StepSettings: Sendable, Equatable {
    public var detection: TaskSettings
    public var segmentation: TaskSettings
    /// λ of L_total = L_det + λ · L_seg (finite).
    public var lambda: Float
    /// Scan every input element before anything reaches a kernel (finite logits, targets in
    /// [0, 1], valid labels, boxes and points), so that a bad element is named on the host. Off
    /// for speed: the kernels still flag bad elements, and the host then names them.
    public var validatesElements: Bool
    /// Device bytes one chunk of the batch may use; nil: half of the device's global memory. A
    /// batch that needs more is split into chunks (samples for detection, images for
    /// segmentation) whose results are combined exactly; the split is deterministic for a budget.
    public var memoryBudget: Int?

    public init(detection: TaskSettings = TaskSettings(), segmentation: TaskSettings = TaskSettings(),
                lambda: Float = 1, validatesElements: Bool = true, memoryBudget: Int? = nil) {
        self.detection = detection
        self.segmentation = segmentation
        self.lambda = lambda
        self.validatesElements = validatesElements
        self.memoryBudget = memoryBudget
    }
}

/// One batch, as views of the caller's memory (row-major). Logits, detection targets and σ maps are
/// float32 or float16 (`FloatView`); points and boxes float32; labels bytes.
public struct StepBatch {
    /// Detection: `logits`, `targets` and the optional `sigma` map are `[samples, classes]`;
    /// `points` is `[samples, 3]` rows (image, x, y); `boxes` is `[M, 6]` rows
    /// (image, class 1…C, x1, y1, x2, y2). `images` is how many images the batch holds (point and
    /// box images are 0..<images).
    public struct Detection {
        public var logits: FloatView
        public var targets: FloatView
        public var points: UnsafeBufferPointer<Float>
        public var boxes: UnsafeBufferPointer<Float>
        public var sigma: FloatView?
        public var samples: Int
        public var classes: Int
        public var images: Int

        /// Float32 logits, targets and σ map.
        public init(logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>,
                    points: UnsafeBufferPointer<Float>, boxes: UnsafeBufferPointer<Float>,
                    sigma: UnsafeBufferPointer<Float>? = nil, samples: Int, classes: Int, images: Int) {
            self.init(logits: .float32(logits), targets: .float32(targets), points: points, boxes: boxes,
                      sigma: sigma.map(FloatView.float32), samples: samples, classes: classes, images: images)
        }

        /// Logits, targets and σ map each float32 or float16 (`.float16(view)`): read in place; on a
        /// device float16 arrays are uploaded as float16 and widened exactly by the kernels.
        public init(logits: FloatView, targets: FloatView, points: UnsafeBufferPointer<Float>,
                    boxes: UnsafeBufferPointer<Float>, sigma: FloatView? = nil, samples: Int, classes: Int,
                    images: Int) {
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

    /// Segmentation: `logits` and the optional `sigma` map are `[batch, classes, height, width]`;
    /// `labels` is `[batch, height, width]` bytes: 0 background, 1…C class, 255 ignore.
    public struct Segmentation {
        public var logits: FloatView
        public var labels: UnsafeBufferPointer<UInt8>
        public var sigma: FloatView?
        public var batch: Int
        public var classes: Int
        public var height: Int
        public var width: Int

        /// Float32 logits and σ map.
        public init(logits: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<UInt8>,
                    sigma: UnsafeBufferPointer<Float>? = nil, batch: Int, classes: Int, height: Int, width: Int) {
            self.init(logits: .float32(logits), labels: labels, sigma: sigma.map(FloatView.float32), batch: batch,
                      classes: classes, height: height, width: width)
        }

        /// Logits and σ map each float32 or float16, as in `Detection`.
        public init(logits: FloatView, labels: UnsafeBufferPointer<UInt8>, sigma: FloatView? = nil, batch: Int,
                    classes: Int, height: Int, width: Int) {
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
}

/// Where a step writes its gradients: views of the caller's memory, laid out like the inputs,
/// float32 or float16 (`MutableFloatView`). A task's `logits` gradient is required when the task is
/// present; a σ gradient is written where the batch has that task's σ map and a buffer is given.
/// A task's two gradients share one element type: float16 gradients are written by the device as
/// float16 (rounded to nearest even) and read straight into this memory.
///
/// `detectionLogitsView` … `segmentationSigmaView` are the views; `detectionLogits` …
/// `segmentationSigma` are their float32 form (nil for a float16 view), kept so that float32 code
/// reads and sets them as before.
public struct StepGradients {
    public var detectionLogitsView: MutableFloatView?
    public var detectionSigmaView: MutableFloatView?
    public var segmentationLogitsView: MutableFloatView?
    public var segmentationSigmaView: MutableFloatView?

    /// Float32 views.
    public init(detectionLogits: UnsafeMutableBufferPointer<Float>? = nil,
                detectionSigma: UnsafeMutableBufferPointer<Float>? = nil,
                segmentationLogits: UnsafeMutableBufferPointer<Float>? = nil,
                segmentationSigma: UnsafeMutableBufferPointer<Float>? = nil) {
        detectionLogitsView = detectionLogits.map(MutableFloatView.float32)
        detectionSigmaView = detectionSigma.map(MutableFloatView.float32)
        segmentationLogitsView = segmentationLogits.map(MutableFloatView.float32)
        segmentationSigmaView = segmentationSigma.map(MutableFloatView.float32)
    }

    /// Float32 or float16 views: `StepGradients(detectionLogits: .float16(buffer))`.
    @_disfavoredOverload
    public init(detectionLogits: MutableFloatView? = nil, detectionSigma: MutableFloatView? = nil,
                segmentationLogits: MutableFloatView? = nil, segmentationSigma: MutableFloatView? = nil) {
        detectionLogitsView = detectionLogits
        detectionSigmaView = detectionSigma
        segmentationLogitsView = segmentationLogits
        segmentationSigmaView = segmentationSigma
    }

    /// The float32 view of ∂L_total/∂ det logits (nil when absent or float16); setting it sets
    /// `detectionLogitsView`.
    public var detectionLogits: UnsafeMutableBufferPointer<Float>? {
        get { Self.float32(detectionLogitsView) }
        set { detectionLogitsView = newValue.map(MutableFloatView.float32) }
    }

    public var detectionSigma: UnsafeMutableBufferPointer<Float>? {
        get { Self.float32(detectionSigmaView) }
        set { detectionSigmaView = newValue.map(MutableFloatView.float32) }
    }

    public var segmentationLogits: UnsafeMutableBufferPointer<Float>? {
        get { Self.float32(segmentationLogitsView) }
        set { segmentationLogitsView = newValue.map(MutableFloatView.float32) }
    }

    public var segmentationSigma: UnsafeMutableBufferPointer<Float>? {
        get { Self.float32(segmentationSigmaView) }
        set { segmentationSigmaView = newValue.map(MutableFloatView.float32) }
    }

    private static func float32(_ view: MutableFloatView?) -> UnsafeMutableBufferPointer<Float>? {
        if case .float32(let buffer)? = view { return buffer }
        return nil
    }
}

/// One task's part of a step: what a data-parallel trainer all-reduces (`sum`, `count`,
/// `positives`) and the loss under the task's normaliser.
public struct TaskResult: Sendable, Equatable {
    /// Σ ℓ / M (0 when M = 0), in float64.
    public var loss: Double
    /// Σ ℓ over every element.
    public var sum: Double
    /// Samples (detection) or non-ignored pixels (segmentation).
    public var count: Int
    /// Samples with a target > 0, or pixels labelled 1…C.
    public var positives: Int
    /// M, the divisor of the sum.
    public var divisor: Double
    /// Σ ∂L/∂σ for a scalar σ (already multiplied like the gradient); nil otherwise.
    public var sigmaGradient: Double?

    public init(loss: Double, sum: Double, count: Int, positives: Int, divisor: Double, sigmaGradient: Double?) {
        self.loss = loss
        self.sum = sum
        self.count = count
        self.positives = positives
        self.divisor = divisor
        self.sigmaGradient = sigmaGradient
    }
}

/// What a step returns besides the gradients it wrote.
public struct StepResult: Sendable, Equatable {
    /// L_det + λ · L_seg (an absent task contributes 0).
    public var total: Double
    public var detection: TaskResult?
    public var segmentation: TaskResult?
    /// What computed the step: the device, or the reference after a fallback.
    public var backend: Engine.Backend

    public init(total: Double, detection: TaskResult?, segmentation: TaskResult?, backend: Engine.Backend) {
        self.total = total
        self.detection = detection
        self.segmentation = segmentation
        self.backend = backend
    }
}
