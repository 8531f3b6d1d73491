/// The settings of the focal loss of docs/math.md §1–§3 and §5 (docs/focal-loss.md has the formulas):
///
///     ℓ(i,c) = α_c · w_a · |y − p̂|^γ · BCE(p̂, y) · g(i,c)
///     L      = Σ ℓ / N_task (mean), Σ ℓ (sum), or ℓ per element (none)
///
/// with p = sigmoid(z) (detection and segmentation) or softmax over the classes of a pixel
/// (segmentation), p̂ its mean under the uncertainty σ (p̂ = p when σ = 0), w_a torchvision's split
/// `a·y + (1 − a)(1 − y)` (1 when off) and g the spatial weight.
public struct FocalLoss: Sendable, Equatable {
    public enum Activation: String, Sendable, CaseIterable {
        /// `p = sigmoid(z)` per element (multi-label); the default for both layouts.
        case sigmoid
        /// `p = softmax(z)` over the C classes of each pixel: segmentation only, C ≥ 2.
        case softmax
    }

    /// The spatial-contextual weight g(i,c) of docs/math.md §2, one value per logit.
    public enum SpatialWeight: Sendable, Equatable {
        /// g ≡ 1.
        case none
        /// Precomputed g, finite and ≥ 0, laid out like the logits.
        case weights([Float])
        /// Distances d (pixels, +∞ for "no ground truth of the class"), laid out like the logits;
        /// g = σ(β(d − δ)) is computed inside the focal kernel and never stored.
        case distances([Float], Refinement)
    }

    /// The prediction uncertainty σ of docs/math.md §3.
    public enum Uncertainty: Sendable, Equatable {
        /// σ = 0: p̂ = p.
        case none
        /// One σ for every element; the result carries the scalar ∂L/∂σ.
        case scalar(Float)
        /// One σ per logit, laid out like the logits; the result carries ∂L/∂σ per element.
        case perElement([Float])
    }

    public enum Reduction: String, Sendable, CaseIterable {
        /// Σ ℓ / M, M the `normalizer`.
        case mean
        /// Σ ℓ.
        case sum
        /// ℓ per element in `elementLoss`; `loss` is then Σ ℓ and the gradient is that of Σ ℓ.
        case none
    }

    /// M of the mean Σ ℓ / M (docs/math.md §5).
    public enum Normalizer: Sendable, Equatable, CustomStringConvertible {
        /// Samples (detection) or non-ignored pixels (segmentation), the paper's 1/N; the loss is
        /// 0 with a zero gradient when there are none (every pixel ignored).
        case samples
        /// RetinaNet's and mmdet's `avg_factor`: samples with at least one target > 0 (detection),
        /// or non-ignored pixels labelled 1…C (segmentation), at least 1.
        case positives
        /// A given M > 0, e.g. the all-reduced count of a data-parallel trainer.
        case given(Double)

        public var description: String {
            switch self {
            case .samples: "samples"
            case .positives: "positives"
            case .given(let m): "\(m)"
            }
        }
    }

    /// Largest σ accepted: beyond it the truncated normal is flat to float precision (p̂ = ½).
    public static let maximumSigma: Float = 1e6

    public var activation: Activation
    /// α_c per class (finite, ≥ 0); nil means 1 for every class.
    public var alpha: [Float]?
    /// torchvision's `a` in [0, 1] (weight `a` for positives, `1 − a` for negatives); nil: off.
    public var positiveFraction: Float?
    /// The focusing parameter γ ≥ 0 (any real; integers up to 16 take a faster path).
    public var gamma: Float
    public var spatial: SpatialWeight
    public var uncertainty: Uncertainty
    /// The upstream gradient: multiplies ∂L/∂logits and ∂L/∂σ (finite).
    public var gradientScale: Float
    public var reduction: Reduction
    /// M of the `.mean` reduction.
    public var normalizer: Normalizer

    public init(activation: Activation = .sigmoid, alpha: [Float]? = nil, positiveFraction: Float? = nil,
                gamma: Float = 2, spatial: SpatialWeight = .none, uncertainty: Uncertainty = .none,
                gradientScale: Float = 1, reduction: Reduction = .mean, normalizer: Normalizer = .samples) {
        self.activation = activation
        self.alpha = alpha
        self.positiveFraction = positiveFraction
        self.gamma = gamma
        self.spatial = spatial
        self.uncertainty = uncertainty
        self.gradientScale = gradientScale
        self.reduction = reduction
        self.normalizer = normalizer
    }

    /// The divisor of Σ ℓ for these counts: M under `.mean`, 1 under `.sum` and `.none`.
    /// `inverse` is 1/M, or 0 when M = 0 (the samples normaliser with nothing counted).
    func divisor(count: Int, positives: Int) -> (value: Double, inverse: Double) {
        guard reduction == .mean else { return (1, 1) }
        let m: Double = switch normalizer {
        case .samples: Double(count)
        case .positives: Double(max(positives, 1))
        case .given(let m): m
        }
        return (m, m > 0 ? 1 / m : 0)
    }

    /// γ as a small integer when it is one (the kernels' product-only path), else nil.
    var integerGamma: Int? {
        gamma >= 0 && gamma <= 16 && gamma == gamma.rounded() ? Int(gamma) : nil
    }
}

/// What one evaluation of the focal loss returns. `Scalar` is `Float` from an engine and `Double`
/// from `FocalLossReference`.
public struct FocalLossResult<Scalar: BinaryFloatingPoint & Sendable>: Sendable, Equatable {
    /// The loss under the settings' reduction (for `.none`: the sum).
    public var loss: Scalar
    /// Σ ℓ over every element, before any division: with `count`, what a data-parallel trainer
    /// all-reduces to get the exact global mean.
    public var sum: Double
    /// Samples (detection) or non-ignored pixels (segmentation).
    public var count: Int
    /// Samples with at least one target > 0 (detection), or non-ignored pixels labelled 1…C
    /// (segmentation): with `sum` and `count`, what a data-parallel trainer all-reduces.
    public var positives: Int
    /// M, the divisor of the sum: the normaliser's value under `.mean`, 1 under `.sum` and `.none`
    /// (0 for the samples normaliser with nothing counted; the loss is then 0).
    public var divisor: Double = 1
    /// ℓ per element, laid out like the logits (0 at ignored pixels); only for reduction `.none`.
    public var elementLoss: [Scalar]?
    /// ∂L/∂logits of the reduced loss, times `gradientScale`; 0 at ignored pixels.
    public var gradient: [Scalar]
    /// ∂L/∂σ per element, times `gradientScale`; only for `.perElement` uncertainty.
    public var sigmaGradient: [Scalar]?
    /// ∂L/∂σ, times `gradientScale`; only for `.scalar` uncertainty.
    public var scalarSigmaGradient: Scalar?
    /// The loss in float64, Σ ℓ / M (0 when M = 0): exact where `loss` would round, and finite
    /// where a float32 `loss` overflows.
    public var exactLoss: Double { divisor > 0 ? sum / divisor : 0 }

    /// What computed this result: the engine's device, or the float64 reference (after a fallback,
    /// or an overflow recomputed there).
    public var backend: Engine.Backend = .reference

    public init(loss: Scalar, sum: Double, count: Int, positives: Int, divisor: Double, elementLoss: [Scalar]?,
                gradient: [Scalar], sigmaGradient: [Scalar]?, scalarSigmaGradient: Scalar?) {
        self.loss = loss
        self.sum = sum
        self.count = count
        self.positives = positives
        self.divisor = divisor
        self.elementLoss = elementLoss
        self.gradient = gradient
        self.sigmaGradient = sigmaGradient
        self.scalarSigmaGradient = scalarSigmaGradient
    }
}

extension FocalLossResult where Scalar == Double {
    /// The float32 result an engine returns, from the float64 one.
    var rounded: FocalLossResult<Float> {
        FocalLossResult<Float>(loss: Float(loss), sum: sum, count: count, positives: positives, divisor: divisor,
                               elementLoss: elementLoss?.map(Float.init),
                               gradient: gradient.map(Float.init), sigmaGradient: sigmaGradient?.map(Float.init),
                               scalarSigmaGradient: scalarSigmaGradient.map(Float.init))
    }
}

extension FocalLossResult where Scalar == Float {
    /// The gradients as a float16 output holds them (rounded to nearest even, widened back).
    var gradientsRoundedToHalf: FocalLossResult<Float> {
        var copy = self
        copy.gradient = gradient.map { Float(Float16($0)) }
        copy.sigmaGradient = sigmaGradient?.map { Float(Float16($0)) }
        return copy
    }
}

extension Engine {
    /// The focal loss and its gradient for detection logits `[samples, classes]` (row-major) with
    /// float targets in [0, 1] (soft targets allowed), sigmoid activation.
    ///
    /// Throws `InvalidArgument` naming the argument (and element) for a shape mismatch, a bad
    /// parameter, a non-finite logit, a target outside [0, 1], a negative or non-finite weight, a
    /// NaN distance or a σ outside [0, `FocalLoss.maximumSigma`].
    public func focalLoss(detection logits: [Float], targets: [Float], samples: Int, classes: Int,
                          _ settings: FocalLoss) throws -> FocalLossResult<Float> {
        let input = try FocalLossInput(detection: logits, targets: targets, samples: samples, classes: classes,
                                       settings)
        return try focalLoss(input)
    }

    /// The focal loss and its gradient for segmentation logits `[batch, classes, height, width]`
    /// (NCHW) with a `[batch, height, width]` label map: 0 background, k = 1…C class k (channel
    /// k − 1), 255 ignore. The one-hot target is formed on the fly.
    ///
    /// Throws `InvalidArgument` as the detection form does, and for a label outside 0…C and 255
    /// (named as `labels[b, y, x]`).
    public func focalLoss(segmentation logits: [Float], labels: [UInt8], batch: Int, classes: Int, height: Int,
                          width: Int, _ settings: FocalLoss) throws -> FocalLossResult<Float> {
        let input = try FocalLossInput(segmentation: logits, labels: labels, batch: batch, classes: classes,
                                       height: height, width: width, settings)
        return try focalLoss(input)
    }

    /// The segmentation form with `Int32` labels (as NumPy and PyTorch often hold them); they are
    /// converted to the kernel's one byte per pixel, and a value outside 0…255 is an
    /// `InvalidArgument` naming its pixel.
    public func focalLoss(segmentation logits: [Float], labels: [Int32], batch: Int, classes: Int, height: Int,
                          width: Int, _ settings: FocalLoss) throws -> FocalLossResult<Float> {
        let bytes = try FocalLossInput.labelBytes(labels, classes: classes, height: height, width: width)
        return try focalLoss(segmentation: logits, labels: bytes, batch: batch, classes: classes, height: height,
                             width: width, settings)
    }

    /// The detection form on IEEE float16 logits and targets (mixed-precision training): the device
    /// reads them as float16 — half the bytes of float32 — and computes in float32; the reference
    /// widens them exactly. `gradient: .float16` has the device write ∂L/∂logits (and ∂L/∂σ) as
    /// float16, rounded to nearest even; the result holds them widened to `Float`.
    public func focalLoss(detection logits: [Float16], targets: [Float16], samples: Int, classes: Int,
                          _ settings: FocalLoss, gradient: FloatPrecision = .float32) throws -> FocalLossResult<Float> {
        try focalLoss(FocalLossInput(detection: logits, targets: targets, samples: samples, classes: classes, settings,
                                     gradient: gradient))
    }

    /// The segmentation form on IEEE float16 logits, as the detection form on float16.
    public func focalLoss(segmentation logits: [Float16], labels: [UInt8], batch: Int, classes: Int, height: Int,
                          width: Int, _ settings: FocalLoss, gradient: FloatPrecision = .float32) throws -> FocalLossResult<Float> {
        try focalLoss(FocalLossInput(segmentation: logits, labels: labels, batch: batch, classes: classes, height: height,
                                     width: width, settings, gradient: gradient))
    }

    /// Float32 inputs with the gradients written as `gradient`.
    public func focalLoss(detection logits: [Float], targets: [Float], samples: Int, classes: Int,
                          _ settings: FocalLoss, gradient: FloatPrecision) throws -> FocalLossResult<Float> {
        try focalLoss(FocalLossInput(detection: logits, targets: targets, samples: samples, classes: classes, settings)
            .writingGradient(gradient))
    }

    private func focalLoss(_ input: FocalLossInput) throws -> FocalLossResult<Float> {
        let reference = { () throws -> FocalLossResult<Float> in
            let result = try FocalLossReference.evaluate(input).rounded
            return input.precision.gradient ? result.gradientsRoundedToHalf : result
        }
        // Nothing to launch for an empty input: the reference gives its zeros and count.
        if input.elementCount == 0 { return try reference() }
        var (result, backend) = try run("focal loss", on: FocalLossRoutine.self, input, memory: input.memoryNeeds) {
            try reference()
        }
        result.backend = backend
        return result
    }
}
