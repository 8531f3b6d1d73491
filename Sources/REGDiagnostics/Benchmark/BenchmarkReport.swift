import Foundation

/// What `reg bench` measured, as `reg bench --json` prints it and its chart draws it.
public struct BenchmarkReport: Codable, Sendable {
    /// One record with its derived figures.
    public struct Row: Codable, Sendable {
        public let operation: String
        public let backend: String
        /// True for the OpenCL device, false for the CPU reference.
        public let onDevice: Bool
        public let size: String
        public let elements: Int
        public let bytes: Int
        public let medianSeconds: Double
        public let medianWallSeconds: Double
        public let repeats: Int
        public let elementsPerSecond: Double
        public let gigabytesPerSecond: Double
        /// GB/s as a percentage of the device's measured copy bandwidth; nil on the CPU reference
        /// or when no bandwidth was measured.
        public let percentOfCopyBandwidth: Double?
        /// Device seconds per stage, for operations with stages (the step).
        public let stageSeconds: [String: Double]?

        public init(_ record: BenchmarkRecord, onDevice: Bool, copyBandwidth: Double?) {
            operation = record.operation
            backend = record.backend
            self.onDevice = onDevice
            size = record.size
            elements = record.elements
            bytes = record.bytes
            medianSeconds = record.medianSeconds
            medianWallSeconds = record.medianWallSeconds
            repeats = record.repeats
            elementsPerSecond = record.elementsPerSecond
            gigabytesPerSecond = record.gigabytesPerSecond
            percentOfCopyBandwidth = onDevice ? copyBandwidth.map { 100 * record.gigabytesPerSecond * 1e9 / $0 } : nil
            stageSeconds = record.stageSeconds
        }
    }

    /// ISO 8601, UTC.
    public let date: String
    /// The engine's backend: "OpenCL: <device>" or the CPU reference.
    public let device: String
    /// The device's copy bandwidth in GB/s (read + write), nil without an OpenCL device.
    public let copyBandwidthGigabytesPerSecond: Double?
    public let quick: Bool
    /// Whether the binary was an optimised build (debug timings are not meaningful).
    public let optimized: Bool
    public let rows: [Row]

    public init(date: Date = Date(), device: String, copyBandwidth: Double?, quick: Bool, optimized: Bool, rows: [Row]) {
        self.date = ISO8601DateFormatter().string(from: date)
        self.device = device
        copyBandwidthGigabytesPerSecond = copyBandwidth.map { $0 / 1e9 }
        self.quick = quick
        self.optimized = optimized
        self.rows = rows
    }
}

extension BenchmarkReport.Row {
    /// Where a staged operation's wall time goes: each stage's device time (one timed run), the
    /// rest (the wall median less the kernel median: transfers and host work), and the wall time
    /// over the focal kernels' time (the step's goal is ≤ 2).
    public var stageSummary: String? {
        guard let stages = stageSeconds, medianWallSeconds > 0 else { return nil }
        let wall = medianWallSeconds
        var parts = stages.keys.sorted().map { name in
            String(format: "%@ %.1f ms (%.0f%%)", name, stages[name]! * 1e3, 100 * stages[name]! / wall)
        }
        // Kernel and wall medians come from the same number of runs; the stages from one of them.
        let rest = max(0, wall - medianSeconds)
        parts.append(String(format: "transfers and host %.1f ms (%.0f%%)", rest * 1e3, 100 * rest / wall))
        if let focal = stages["focal"], focal > 0 { parts.append(String(format: "wall / focal kernels = %.2f", wall / focal)) }
        return parts.joined(separator: ", ")
    }
}
