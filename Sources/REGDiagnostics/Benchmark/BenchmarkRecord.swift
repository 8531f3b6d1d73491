/// One benchmark figure: an operation, in one variant, at one size, on one backend.
///
/// Its name is `<operation>/<variant>/<size>` (`focal-det/f32/2^22`, `edt/reference/8x512x512xC5`;
/// docs/cli.md gives the scheme). `bytes` is what the operation must move at the least (each input
/// read once, each output written once), as stated by the operation's benchmark; GB/s = bytes /
/// median kernel time, so the figure can be held against the device's measured copy bandwidth.
public struct BenchmarkRecord: Codable, Sendable {
    /// The row's operation, e.g. "focal-det-refine" or "edt".
    public let operation: String
    /// "f32" (the device in float32), later "f16", or "reference" (the float64 CPU reference).
    public let variant: String
    /// The size as the name writes it: "2^22", "8x512x512xC5", "8x512x512xB20xC80".
    public let size: String
    /// The size in words, e.g. "524288×8 logits" or "8×512×512 labels, C = 5".
    public let detail: String
    /// "OpenCL: <device>" or "CPU reference (float64)".
    public let backend: String
    /// Work units (elements, pixel-maps) per run.
    public let elements: Int
    public let bytes: Int
    /// Median seconds per run. On OpenCL: kernel time from profiling events (data already on the
    /// device); on the CPU reference: wall time.
    public let medianSeconds: Double
    /// Median wall seconds per run including host↔device transfers (equals medianSeconds on the CPU).
    public let medianWallSeconds: Double
    /// Timed runs the medians are taken over (after untimed warm-up runs).
    public let repeats: Int
    /// max |device − float64 reference| over the operation's main output (docs/cli.md lists it per
    /// operation) on this very input; 0 on the reference rows, which are the oracle themselves.
    public let maxAbsErrorVsReference: Double
    /// Device seconds per stage of one evaluation (the last timed), for operations with stages.
    public let stageSeconds: [String: Double]?

    public init(operation: String, variant: String, size: String, detail: String, backend: String,
                elements: Int, bytes: Int, medianSeconds: Double, medianWallSeconds: Double, repeats: Int,
                maxAbsErrorVsReference: Double, stageSeconds: [String: Double]? = nil) {
        self.operation = operation
        self.variant = variant
        self.size = size
        self.detail = detail
        self.backend = backend
        self.elements = elements
        self.bytes = bytes
        self.medianSeconds = medianSeconds
        self.medianWallSeconds = medianWallSeconds
        self.repeats = repeats
        self.maxAbsErrorVsReference = maxAbsErrorVsReference
        self.stageSeconds = stageSeconds
    }

    /// `<operation>/<variant>/<size>`.
    public var name: String { "\(operation)/\(variant)/\(size)" }
    public var elementsPerSecond: Double { Double(elements) / medianSeconds }
    public var gigabytesPerSecond: Double { Double(bytes) / medianSeconds / 1e9 }
}

/// The variants a row name can carry.
public enum BenchmarkVariant {
    /// The OpenCL device computing in float32.
    public static let f32 = "f32"
    /// The OpenCL device reading float16 logits (and targets) and writing float16 gradients,
    /// computing in float32.
    public static let f16 = "f16"
    /// The float64 CPU reference (one row per operation and size, whatever the device variants).
    public static let reference = "reference"
}

/// The largest |device − reference| over two arrays of the same length. Equal values (two
/// infinities of the same sign included) differ by 0; a NaN on either side, or an infinity against
/// a finite value, makes the result NaN or ∞, which the report prints as such.
public struct MaxAbsoluteError: Sendable {
    public private(set) var value: Double = 0

    public init() {}

    public mutating func add(device: Double, reference: Double) {
        if device == reference || value.isNaN { return }
        let difference = abs(device - reference)
        if difference.isNaN || difference > value { value = difference }
    }

    public mutating func add<D: Collection, R: Collection>(device: D, reference: R)
    where D.Element: BinaryFloatingPoint, R.Element: BinaryFloatingPoint {
        precondition(device.count == reference.count, "device \(device.count) values, reference \(reference.count)")
        for (d, r) in zip(device, reference) { add(device: Double(d), reference: Double(r)) }
    }

    /// The largest |device − reference| of two arrays.
    public static func of<D: Collection, R: Collection>(device: D, reference: R) -> Double
    where D.Element: BinaryFloatingPoint, R.Element: BinaryFloatingPoint {
        var error = MaxAbsoluteError()
        error.add(device: device, reference: reference)
        return error.value
    }
}
