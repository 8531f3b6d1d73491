/// Element types a label map may have: `UInt8` and `Int32`.
///
/// Labels are 0 (background), 1…C (classes) and 255 (ignore: ground truth of no class); anything
/// else is an `InvalidArgument`.
public protocol DistanceTransformLabel: FixedWidthInteger, Sendable {}
extension UInt8: DistanceTransformLabel {}
extension Int32: DistanceTransformLabel {}

/// Physical size of a pixel along y (rows) and x (columns): d² = (sy·Δy)² + (sx·Δx)².
public struct PixelSpacing: Sendable, Equatable, CustomStringConvertible {
    public var y: Float
    public var x: Float

    public init(y: Float, x: Float) {
        self.y = y
        self.x = x
    }

    /// One unit per pixel along both axes (squared distances are exact integers).
    public static let unit = PixelSpacing(y: 1, x: 1)

    /// Smallest and largest spacing accepted: their squares, and every squared distance of a map
    /// up to 32768 × 32768, stay normal finite floats.
    public static let range: ClosedRange<Float> = 1e-12...1e12

    public var description: String { "(\(y), \(x))" }
}

/// A distance-transform request with its labels as bytes: what the device routine takes. A UInt8
/// map is not scanned on the host (the column pass validates it as it reads it); an Int32 map is
/// checked as it is narrowed.
package struct DistanceTransformInput: Sendable {
    package let problem: DistanceTransformProblem
    package let labels: [UInt8]

    package init(problem: DistanceTransformProblem, labels: [UInt8]) {
        self.problem = problem
        self.labels = labels
    }
}

/// A validated distance-transform request: geometry, classes and options.
package struct DistanceTransformProblem: Sendable {
    /// Largest height or width: keeps every intermediate of the exact integer envelope in int32.
    static let maximumSide = 32768
    /// Largest output (B·C·H·W floats).
    static let maximumOutput = 1 << 36
    /// The label that marks a pixel as ignored (ground truth of no class).

    package let batch: Int
    package let height: Int
    package let width: Int
    package let classes: Int
    package let spacing: PixelSpacing
    package let squared: Bool

    var pixelsPerImage: Int { height * width }
    package var labelCount: Int { batch * height * width }
    package var outputCount: Int { batch * classes * height * width }
    /// True when sy = sx: the envelope is exact in integers and d² = (Δy² + Δx²)·sy².
    var isotropic: Bool { spacing.y == spacing.x }

    package init(labelCount: Int, batch: Int, height: Int, width: Int, classes: Int, spacing: PixelSpacing,
         squared: Bool) throws(InvalidArgument) {
        for (name, value) in [("batch", batch), ("height", height), ("width", width)] where value < 1 {
            throw InvalidArgument(name, "must be at least 1, got \(value)")
        }
        for (name, value) in [("height", height), ("width", width)] where value > Self.maximumSide {
            throw InvalidArgument(name, "must be at most \(Self.maximumSide), got \(value)")
        }
        guard (1...LabelMap.maximumClasses).contains(classes) else {
            throw InvalidArgument("classes", "must be in 1…\(LabelMap.maximumClasses) (255 is the ignore label), got \(classes)")
        }
        for (name, value) in [("spacing.y", spacing.y), ("spacing.x", spacing.x)]
        where !(value.isFinite && PixelSpacing.range.contains(value)) {
            throw InvalidArgument(name, "must be finite and in [1e-12, 1e12], got \(value)")
        }
        let (images, overflow) = batch.multipliedReportingOverflow(by: height * width)
        let (output, overflow2) = images.multipliedReportingOverflow(by: classes)
        guard !overflow, !overflow2, output <= Self.maximumOutput else {
            throw InvalidArgument("batch", "B·C·H·W = \(batch)·\(classes)·\(height)·\(width) is over the limit of 2^36 distances")
        }
        guard labelCount == images else {
            throw InvalidArgument("labels", "has \(labelCount) elements; batch × height × width = \(images)")
        }
        self.batch = batch
        self.height = height
        self.width = width
        self.classes = classes
        self.spacing = spacing
        self.squared = squared
    }

    /// Whether `label` is 0…C or the ignore label.
    @inline(__always)
    func isValid<Label: DistanceTransformLabel>(_ label: Label) -> Bool {
        (label >= 0 && label <= classes) || label == LabelMap.ignore
    }

    /// The error for the first label outside 0…C and 255, or nil when every label is valid.
    func firstInvalidLabel<Label: DistanceTransformLabel>(_ labels: [Label]) -> InvalidArgument? {
        guard let i = labels.firstIndex(where: { !isValid($0) }) else { return nil }
        let b = i / pixelsPerImage, y = (i % pixelsPerImage) / width, x = i % width
        return InvalidArgument("labels", index: [b, y, x],
                               "is \(labels[i]); labels are 0 (background), 1…\(classes) (classes) or 255 (ignore)")
    }

    /// The labels as bytes, validated: a UInt8 map as is (the device validates it while it reads
    /// it when `validate` is false), an Int32 map checked and narrowed.
    package func bytes<Label: DistanceTransformLabel>(_ labels: [Label], validate: Bool) throws(InvalidArgument) -> [UInt8] {
        if Label.self == UInt8.self {
            let bytes = unsafeBitCast(labels, to: [UInt8].self)
            if validate, let error = firstInvalidLabel(bytes) { throw error }
            return bytes
        }
        var bytes = [UInt8](repeating: 0, count: labels.count)
        var bad = false
        bytes.withUnsafeMutableBufferPointer { out in
            for i in labels.indices {
                let label = labels[i]
                bad = bad || !isValid(label)
                out[i] = UInt8(truncatingIfNeeded: label)
            }
        }
        if bad, let error = firstInvalidLabel(labels) { throw error }
        return bytes
    }
}

extension Engine {
    /// The exact per-class Euclidean distance transform of a batch of label maps, on the engine's
    /// device.
    ///
    /// - Parameters:
    ///   - labels: `[B, H, W]`, row-major: 0 background, 1…C classes, 255 ignore (ground truth of
    ///     no class). Any other value throws `InvalidArgument` naming `labels[b, y, x]`.
    ///   - classes: C, in 1…254.
    ///   - spacing: the pixel's size along y and x (finite, in [1e-12, 1e12]).
    ///   - squared: return squared distances (exact integers at unit spacing, as long as they stay
    ///     below 2^24; correctly rounded above).
    /// - Returns: `[B, C, H, W]`: channel k is, at every pixel, the distance to the nearest pixel
    ///   of class k + 1 in the same image (0 on the class's own pixels), `+∞` over the whole map
    ///   when the image has no pixel of that class.
    public func distanceTransform<Label: DistanceTransformLabel>(
        labels: [Label], batch: Int, height: Int, width: Int, classes: Int,
        spacing: PixelSpacing = .unit, squared: Bool = false
    ) throws -> [Float] {
        let problem = try DistanceTransformProblem(labelCount: labels.count, batch: batch, height: height,
                                                   width: width, classes: classes, spacing: spacing,
                                                   squared: squared)
        let maps = MemoryNeeds.floats(problem.outputCount)
        let memory = MemoryNeeds(hostBytes: maps + problem.labelCount, referenceHostBytes: maps + problem.labelCount,
                                 deviceBytes: maps + problem.labelCount, largestBuffer: maps,
                                 remedy: "use fewer classes, a smaller batch or smaller maps per call "
                                     + "(the output is B·C·H·W = \(problem.batch)·\(problem.classes)·\(problem.height)·\(problem.width) float32 distances)")
        let input = DistanceTransformInput(problem: problem, labels: try problem.bytes(labels, validate: false))
        return try run("distance-transform", on: DistanceTransformRoutine.self, input, memory: memory) {
            try DistanceTransformReference.distanceTransform(labels: labels, problem)
        }.0
    }
}
