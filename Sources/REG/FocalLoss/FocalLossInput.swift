import REGRuntime

/// One focal-loss problem as the caller gave it, with its shape and parameters checked: the input
/// of both the OpenCL routine and the float64 reference.
///
/// Construction checks shapes and settings (cheap). `validateElements()` scans every element and
/// throws at the first bad one; the reference always runs it, the OpenCL routine runs it only when
/// its kernel flagged a bad element, so both report the same element.
/// The layout and settings of one focal-loss evaluation, without its data. The per-element
/// arrays of `settings` (spatial weights, σ) are not read: their buffers come with the launch.
struct FocalLossShape {
    let layout: FocalLossInput.Layout
    let settings: FocalLoss
    var precision = FocalLossPrecision()

    var classes: Int {
        switch layout {
        case .detection(_, let classes), .segmentation(_, let classes, _, _): classes
        }
    }

    /// Samples (detection) or pixels (segmentation).
    var rowCount: Int {
        switch layout {
        case .detection(let samples, _): samples
        case .segmentation(let batch, _, let height, let width): batch * height * width
        }
    }

    var elementCount: Int { rowCount * classes }
}

/// Which arrays of a focal-loss evaluation are IEEE float16 on the device (the rest float32).
package struct FocalLossPrecision: Hashable, Sendable {
    /// Logits given as float16 (read as such by the kernels, converted exactly by the reference).
    package var logits = false
    /// Detection targets given as float16.
    package var targets = false
    /// Gradients (∂L/∂logits, ∂L/∂σ) written as float16, rounded to nearest even.
    package var gradient = false

    package init(logits: Bool = false, targets: Bool = false, gradient: Bool = false) {
        self.logits = logits
        self.targets = targets
        self.gradient = gradient
    }
}

/// The element type of a floating-point array REG reads or writes.
public enum FloatPrecision: String, Sendable, CaseIterable {
    /// IEEE binary32.
    case float32
    /// IEEE binary16: half the bytes; REG computes in float32 either way.
    case float16
}

package struct FocalLossInput: Sendable {
    package enum Layout: Equatable {
        /// `[samples, classes]`, class fastest.
        case detection(samples: Int, classes: Int)
        /// `[batch, classes, height, width]` logits, `[batch, height, width]` labels.
        case segmentation(batch: Int, classes: Int, height: Int, width: Int)
    }

    package let layout: Layout
    package let logits: [Float]
    /// Detection targets, one per logit (empty for segmentation).
    package let targets: [Float]
    /// Segmentation labels, one per pixel (empty for detection).
    package let labels: [UInt8]
    package let settings: FocalLoss
    /// The float16 arrays as the caller gave them (`logits` and `targets` hold their exact float32
    /// values, for the reference and the host's scans); empty where that array is float32.
    package private(set) var halfLogits: [Float16] = []
    package private(set) var halfTargets: [Float16] = []
    package private(set) var precision = FocalLossPrecision()

    package init(detection logits: [Float], targets: [Float], samples: Int, classes: Int,
         _ settings: FocalLoss) throws(InvalidArgument) {
        try Self.requireDimension(samples, "samples", minimum: 0)
        try Self.requireDimension(classes, "classes", minimum: 1)
        let elements = try Self.product([samples, classes], "samples × classes")
        try Self.requireCount(logits.count, elements, "logits", "samples × classes")
        try Self.requireCount(targets.count, elements, "targets", "samples × classes")
        if settings.activation == .softmax {
            throw InvalidArgument("activation", "softmax runs over the classes of a pixel (segmentation layout); detection is multi-label and uses sigmoid")
        }
        layout = .detection(samples: samples, classes: classes)
        self.logits = logits
        self.targets = targets
        labels = []
        self.settings = settings
        try validateSettings()
    }

    package init(segmentation logits: [Float], labels: [UInt8], batch: Int, classes: Int, height: Int, width: Int,
         _ settings: FocalLoss) throws(InvalidArgument) {
        try Self.requireDimension(batch, "batch", minimum: 0)
        try Self.requireDimension(classes, "classes", minimum: 1)
        try Self.requireDimension(height, "height", minimum: 0)
        try Self.requireDimension(width, "width", minimum: 0)
        guard classes <= LabelMap.maximumClasses else {
            throw InvalidArgument("classes", "must be at most 254 (labels are bytes, 255 means ignore), got \(classes)")
        }
        let pixels = try Self.product([batch, height, width], "batch × height × width")
        let elements = try Self.product([pixels, classes], "batch × classes × height × width")
        try Self.requireCount(logits.count, elements, "logits", "batch × classes × height × width")
        try Self.requireCount(labels.count, pixels, "labels", "batch × height × width")
        if settings.activation == .softmax && classes < 2 {
            throw InvalidArgument("activation", "softmax needs at least 2 classes, got \(classes)")
        }
        layout = .segmentation(batch: batch, classes: classes, height: height, width: width)
        self.logits = logits
        targets = []
        self.labels = labels
        self.settings = settings
        try validateSettings()
    }

    /// Float16 logits and targets: read by the kernels as float16; `gradient` float16 has the device
    /// write the gradients as float16.
    package init(detection logits: [Float16], targets: [Float16], samples: Int, classes: Int, _ settings: FocalLoss,
                 gradient: FloatPrecision = .float32) throws(InvalidArgument) {
        try self.init(detection: HalfPrecision.widen(logits), targets: HalfPrecision.widen(targets), samples: samples,
                      classes: classes, settings)
        halfLogits = logits
        halfTargets = targets
        precision = FocalLossPrecision(logits: true, targets: true, gradient: gradient == .float16)
    }

    package init(segmentation logits: [Float16], labels: [UInt8], batch: Int, classes: Int, height: Int, width: Int,
                 _ settings: FocalLoss, gradient: FloatPrecision = .float32) throws(InvalidArgument) {
        try self.init(segmentation: HalfPrecision.widen(logits), labels: labels, batch: batch, classes: classes,
                      height: height, width: width, settings)
        halfLogits = logits
        precision = FocalLossPrecision(logits: true, gradient: gradient == .float16)
    }

    /// The float32 input with the gradients requested as `gradient`.
    package func writingGradient(_ gradient: FloatPrecision) -> FocalLossInput {
        var copy = self
        copy.precision.gradient = gradient == .float16
        return copy
    }

    package var classes: Int {
        switch layout {
        case .detection(_, let classes), .segmentation(_, let classes, _, _): classes
        }
    }

    /// Logits (and every per-element array).
    package var elementCount: Int { logits.count }

    /// Samples (detection) or pixels (segmentation).
    var rowCount: Int { elementCount / classes }

    /// The layout and settings without the data: what the device routine launches.
    var shape: FocalLossShape {
        FocalLossShape(layout: layout, settings: settings, precision: precision)
    }

    /// What one evaluation allocates: per-element inputs and outputs on the device, the outputs on
    /// the host (float32 from the device; float64 then float32 from the reference).
    var memoryNeeds: MemoryNeeds {
        let n = elementCount
        var outputs = 1 // the gradient
        if case .perElement = settings.uncertainty { outputs += 1 }
        if settings.reduction == .none { outputs += 1 }
        var inputs = labels.isEmpty ? 2 : 1 // logits, and targets (detection)
        if settings.spatial != .none { inputs += 1 }
        if case .perElement = settings.uncertainty { inputs += 1 }
        // n is the length of an array already in memory: these products cannot overflow.
        return MemoryNeeds(hostBytes: 4 * n * outputs, referenceHostBytes: (8 + 4) * n * outputs,
                           deviceBytes: 4 * n * (inputs + outputs) + labels.count, largestBuffer: 4 * n,
                           remedy: "use a smaller batch per call")
    }

    /// The class of element `i`.
    func classIndex(ofElement i: Int) -> Int {
        switch layout {
        case .detection(_, let classes): i % classes
        case .segmentation(_, let classes, let height, let width): (i / (height * width)) % classes
        }
    }

    /// The position of element `i` as the caller indexes it: `[n, c]` or `[b, c, y, x]`.
    func elementIndex(_ i: Int) -> [Int] {
        switch layout {
        case .detection(_, let classes):
            return [i / classes, i % classes]
        case .segmentation(_, let classes, let height, let width):
            let x = i % width, y = (i / width) % height, c = (i / (width * height)) % classes
            return [i / (width * height * classes), c, y, x]
        }
    }

    // MARK: Validation

    private func validateSettings() throws(InvalidArgument) {
        let s = settings
        guard s.gamma.isFinite && s.gamma >= 0 else {
            throw InvalidArgument("gamma", "must be finite and ≥ 0, got \(s.gamma)")
        }
        if let alpha = s.alpha {
            guard alpha.count == classes else {
                throw InvalidArgument("alpha", "has \(alpha.count) values; expected one per class (\(classes))")
            }
            if let c = alpha.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
                throw InvalidArgument("alpha", index: [c], "must be finite and ≥ 0, got \(alpha[c])")
            }
        }
        if let a = s.positiveFraction, !(a >= 0 && a <= 1) {
            throw InvalidArgument("positiveFraction", "must be in [0, 1], got \(a)")
        }
        try InvalidArgument.requireFinite(s.gradientScale, "gradientScale")
        if case .given(let m) = s.normalizer, !(m.isFinite && m > 0) {
            throw InvalidArgument("normalizer", "a given M must be finite and > 0, got \(m)")
        }
        switch s.spatial {
        case .none: break
        case .weights(let g): try Self.requireCount(g.count, elementCount, "weights", "one per logit")
        case .distances(let d, let refinement):
            try Self.requireCount(d.count, elementCount, "distances", "one per logit")
            try refinement.validate()
        }
        switch s.uncertainty {
        case .none: break
        case .scalar(let sigma):
            guard Self.isValidSigma(sigma) else {
                throw InvalidArgument("sigma", "must be finite and in [0, \(FocalLoss.maximumSigma)], got \(sigma)")
            }
        case .perElement(let sigma): try Self.requireCount(sigma.count, elementCount, "sigma", "one per logit")
        }
    }

    /// Throws at the first bad element, scanning logits, targets or labels, spatial input, σ.
    func validateElements() throws(InvalidArgument) {
        if let i = logits.firstIndex(where: { !$0.isFinite }) {
            throw InvalidArgument("logits", index: elementIndex(i), "must be finite, got \(logits[i])")
        }
        if let i = targets.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
            throw InvalidArgument("targets", index: elementIndex(i), "must be in [0, 1], got \(targets[i])")
        }
        if let j = labels.firstIndex(where: { Int($0) > classes && $0 != LabelMap.ignore }) {
            throw Self.badLabel(Int(labels[j]), pixel: j, layout: layout)
        }
        switch settings.spatial {
        case .none: break
        case .weights(let g):
            if let i = g.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
                throw InvalidArgument("weights", index: elementIndex(i), "must be finite and ≥ 0, got \(g[i])")
            }
        case .distances(let d, _):
            if let i = d.firstIndex(where: \.isNaN) {
                throw InvalidArgument("distances", index: elementIndex(i), "is NaN")
            }
        }
        if case .perElement(let sigma) = settings.uncertainty, let i = sigma.firstIndex(where: { !Self.isValidSigma($0) }) {
            throw InvalidArgument("sigma", index: elementIndex(i),
                                  "must be finite and in [0, \(FocalLoss.maximumSigma)], got \(sigma[i])")
        }
    }

    static func isValidSigma(_ sigma: Float) -> Bool { sigma >= 0 && sigma <= FocalLoss.maximumSigma }

    /// `Int32` labels as bytes; a value outside 0…255 throws naming its pixel.
    static func labelBytes(_ labels: [Int32], classes: Int, height: Int,
                           width: Int) throws(InvalidArgument) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: labels.count)
        for (j, label) in labels.enumerated() {
            guard let byte = UInt8(exactly: label) else {
                throw InvalidArgument("labels", index: pixelIndex(j, height: height, width: width),
                                      "must be 0…\(classes) or 255 (ignore), got \(label)")
            }
            bytes[j] = byte
        }
        return bytes
    }

    private static func badLabel(_ label: Int, pixel j: Int, layout: Layout) -> InvalidArgument {
        guard case .segmentation(_, let classes, let height, let width) = layout else { preconditionFailure() }
        return InvalidArgument("labels", index: pixelIndex(j, height: height, width: width),
                               "must be 0…\(classes) or 255 (ignore), got \(label)")
    }

    private static func pixelIndex(_ j: Int, height: Int, width: Int) -> [Int] {
        guard height > 0, width > 0 else { return [j] }
        return [j / (height * width), (j / width) % height, j % width]
    }

    private static func requireDimension(_ value: Int, _ name: String, minimum: Int) throws(InvalidArgument) {
        guard value >= minimum else { throw InvalidArgument(name, "must be ≥ \(minimum), got \(value)") }
    }

    private static func product(_ factors: [Int], _ what: String) throws(InvalidArgument) -> Int {
        var result = 1
        for factor in factors {
            let (value, overflow) = result.multipliedReportingOverflow(by: factor)
            guard !overflow else { throw InvalidArgument(what, "overflows") }
            result = value
        }
        return result
    }

    private static func requireCount(_ count: Int, _ expected: Int, _ name: String,
                                     _ shape: String) throws(InvalidArgument) {
        guard count == expected else {
            throw InvalidArgument(name, "has \(count) values; expected \(shape) = \(expected)")
        }
    }
}
