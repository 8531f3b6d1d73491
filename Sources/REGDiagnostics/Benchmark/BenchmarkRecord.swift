/// One benchmark figure: an operation at one size on one backend.
///
/// `bytes` is what the operation must move at the least (each input read once, each output
/// written once), as stated by the operation's benchmark; GB/s = bytes / median time, so the figure
/// can be held against the device's measured copy bandwidth.
public struct BenchmarkRecord: Codable, Sendable {
    public let operation: String
    /// "OpenCL: <device>" or "CPU reference".
    public let backend: String
    /// Human-readable size, e.g. "2^20 elements" or "8×512×512, C=5".
    public let size: String
    /// Work units (elements, pixel-maps) per run.
    public let elements: Int
    public let bytes: Int
    /// Median seconds per run. On OpenCL: kernel time from profiling events (data already on the
    /// device); on the CPU reference: wall time.
    public let medianSeconds: Double
    /// Median wall seconds per run including host↔device transfers (equals medianSeconds on the CPU).
    public let medianWallSeconds: Double
    public let repeats: Int
    /// Device seconds per stage of one evaluation (the last timed), for operations with stages.
    public let stageSeconds: [String: Double]?

    public init(operation: String, backend: String, size: String, elements: Int, bytes: Int,
                medianSeconds: Double, medianWallSeconds: Double, repeats: Int, stageSeconds: [String: Double]? = nil) {
        self.operation = operation
        self.backend = backend
        self.size = size
        self.elements = elements
        self.bytes = bytes
        self.medianSeconds = medianSeconds
        self.medianWallSeconds = medianWallSeconds
        self.repeats = repeats
        self.stageSeconds = stageSeconds
    }

    public var elementsPerSecond: Double { Double(elements) / medianSeconds }
    public var gigabytesPerSecond: Double { Double(bytes) / medianSeconds / 1e9 }
}
