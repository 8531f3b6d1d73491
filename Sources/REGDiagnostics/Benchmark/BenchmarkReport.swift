import Foundation

/// What `reg bench` measured: the table, the chart, and `reg bench --json`, which writes it in
/// Google Benchmark's JSON schema (`context` + `benchmarks`, one `"aggregate"` `"median"` entry
/// per row, times in ms) so that Google Benchmark's tools (`compare.py`) read it (`json()`).
/// Decoding reads that schema back.
public struct BenchmarkReport: Decodable, Sendable {
    /// Where and how the figures were taken: Google Benchmark's context fields, and REG's own.
    public struct Context: Sendable {
        /// ISO 8601, UTC.
        public var date: String
        public var hostName: String
        public var executable: String
        public var numberOfCPUs: Int
        /// From /proc/cpuinfo; 0 where unknown.
        public var mhzPerCPU: Int
        /// 1, 5 and 15 minute load averages (the machine may be shared).
        public var loadAverage: [Double]
        /// "release" or "debug" (debug timings are not meaningful).
        public var libraryBuildType: String
        /// The engine's backend: "OpenCL: <device>" or the CPU reference.
        public var device: String
        /// The OpenCL driver version, "" on the CPU reference.
        public var driver: String
        /// The focal kernels' variant on the device (e.g. "vector16-items"), "" on the reference.
        public var kernelVariant: String
        /// Bytes/s (read + write) of clEnqueueCopyBuffer on the device; nil without a device.
        public var copyBandwidthBytesPerSecond: Double?
        public var regVersion: String
        /// `--quick` (or the tests' smoke sizes): small sizes, few repeats.
        public var quick: Bool

        public init(date: String, hostName: String, executable: String, numberOfCPUs: Int, mhzPerCPU: Int,
                    loadAverage: [Double], libraryBuildType: String, device: String, driver: String,
                    kernelVariant: String = "", copyBandwidthBytesPerSecond: Double?, regVersion: String, quick: Bool) {
            self.date = date
            self.hostName = hostName
            self.executable = executable
            self.numberOfCPUs = numberOfCPUs
            self.mhzPerCPU = mhzPerCPU
            self.loadAverage = loadAverage
            self.libraryBuildType = libraryBuildType
            self.device = device
            self.driver = driver
            self.kernelVariant = kernelVariant
            self.copyBandwidthBytesPerSecond = copyBandwidthBytesPerSecond
            self.regVersion = regVersion
            self.quick = quick
        }
    }

    /// One record with its derived figures and its place in Google Benchmark's families.
    public struct Row: Sendable {
        public let operation: String
        public let variant: String
        /// The size as the name writes it ("2^22", "8x512x512xC5").
        public let size: String
        /// The size in words ("524288×8 logits").
        public let detail: String
        public let backend: String
        /// True for the OpenCL device, false for the CPU reference.
        public let onDevice: Bool
        /// Google Benchmark's family (here `<operation>/<variant>`) in order of first appearance,
        /// and the row's place within it.
        public let familyIndex: Int
        public let perFamilyInstanceIndex: Int
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
        /// max |device − float64 reference| of the main output; 0 on the reference rows.
        public let maxAbsErrorVsReference: Double
        /// Device seconds per stage, for operations with stages (the step).
        public let stageSeconds: [String: Double]?

        public init(_ record: BenchmarkRecord, onDevice: Bool, copyBandwidth: Double?, familyIndex: Int = 0,
                    perFamilyInstanceIndex: Int = 0) {
            operation = record.operation
            variant = record.variant
            size = record.size
            detail = record.detail
            backend = record.backend
            self.onDevice = onDevice
            self.familyIndex = familyIndex
            self.perFamilyInstanceIndex = perFamilyInstanceIndex
            elements = record.elements
            bytes = record.bytes
            medianSeconds = record.medianSeconds
            medianWallSeconds = record.medianWallSeconds
            repeats = record.repeats
            elementsPerSecond = record.elementsPerSecond
            gigabytesPerSecond = record.gigabytesPerSecond
            percentOfCopyBandwidth = onDevice ? copyBandwidth.map { 100 * record.gigabytesPerSecond * 1e9 / $0 } : nil
            maxAbsErrorVsReference = record.maxAbsErrorVsReference
            stageSeconds = record.stageSeconds
        }

        /// `<operation>/<variant>/<size>`.
        public var name: String { "\(operation)/\(variant)/\(size)" }
        /// Backend and size in words: Google Benchmark's `label`.
        public var label: String { "\(backend) · \(detail)" }
        /// What the chart draws as one series: the backend, with the variant on the device.
        public var series: String { onDevice ? "\(backend) [\(variant)]" : backend }
    }

    public let context: Context
    public let rows: [Row]

    public init(context: Context, rows: [Row]) {
        self.context = context
        self.rows = rows
    }

    /// ISO 8601, UTC.
    public var date: String { context.date }
    /// The engine's backend: "OpenCL: <device>" or the CPU reference.
    public var device: String { context.device }
    /// The device's copy bandwidth in GB/s (read + write), nil without an OpenCL device.
    public var copyBandwidthGigabytesPerSecond: Double? { context.copyBandwidthBytesPerSecond.map { $0 / 1e9 } }
    public var quick: Bool { context.quick }
    /// Whether the binary was an optimised build (debug timings are not meaningful).
    public var optimized: Bool { context.libraryBuildType == "release" }

    /// The report as `reg bench --json` prints it: Google Benchmark's schema, pretty-printed, keys
    /// in Google Benchmark's order. A NaN or infinite error is written as a string ("NaN",
    /// "Infinity"); every other figure is a number.
    public func json() -> String { jsonValue.text + "\n" }
}

// MARK: - Google Benchmark's JSON schema

extension BenchmarkReport {
    /// Keys as Google Benchmark writes them; the counters are top-level numbers.
    struct Key: CodingKey {
        let stringValue: String
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    /// Milliseconds: `time_unit` of every entry.
    static let timeUnit = "ms"
    static let stagePrefix = "stage_", stageSuffix = "_time"

    var jsonValue: OrderedJSON {
        let bandwidth = context.copyBandwidthBytesPerSecond.map(OrderedJSON.number) ?? .null
        let contextFields: [(String, OrderedJSON)] = [
            ("date", .string(context.date)),
            ("host_name", .string(context.hostName)),
            ("executable", .string(context.executable)),
            ("num_cpus", .integer(context.numberOfCPUs)),
            ("mhz_per_cpu", .integer(context.mhzPerCPU)),
            ("load_avg", .array(context.loadAverage.map(OrderedJSON.number))),
            ("library_build_type", .string(context.libraryBuildType)),
            ("json_schema_version", .integer(1)),
            ("device", .string(context.device)),
            ("driver", .string(context.driver)),
            ("kernel_variant", .string(context.kernelVariant)),
            ("copy_bandwidth_bytes_per_second", bandwidth),
            ("reg_version", .string(context.regVersion)),
            ("quick", .bool(context.quick)),
        ]
        let benchmarks = rows.map { row -> OrderedJSON in
            var fields: [(String, OrderedJSON)] = [
                ("name", .string(row.name)),
                ("family_index", .integer(row.familyIndex)),
                ("per_family_instance_index", .integer(row.perFamilyInstanceIndex)),
                ("run_name", .string(row.name)),
                ("run_type", .string("aggregate")),
                ("repetitions", .integer(row.repeats)),
                ("threads", .integer(1)),
                ("aggregate_name", .string("median")),
                ("aggregate_unit", .string("time")),
                ("iterations", .integer(1)),
                ("real_time", .number(row.medianWallSeconds * 1e3)),
                ("cpu_time", .number(row.medianWallSeconds * 1e3)),
                ("time_unit", .string(Self.timeUnit)),
                ("bytes", .integer(row.bytes)),
                ("bytes_per_second", .number(Double(row.bytes) / row.medianSeconds)),
                ("elements", .integer(row.elements)),
                ("items_per_second", .number(row.elementsPerSecond)),
                ("kernel_time", .number(row.medianSeconds * 1e3)),
            ]
            if let percent = row.percentOfCopyBandwidth { fields.append(("percent_of_copy_bandwidth", .number(percent))) }
            fields.append(("max_abs_error_vs_reference", .number(row.maxAbsErrorVsReference)))
            for (stage, seconds) in (row.stageSeconds ?? [:]).sorted(by: { $0.key < $1.key }) {
                fields.append((Self.stagePrefix + stage + Self.stageSuffix, .number(seconds * 1e3)))
            }
            fields.append(("label", .string(row.label)))
            return .object(fields)
        }
        return .object([("context", .object(contextFields)), ("benchmarks", .array(benchmarks))])
    }

    public init(from decoder: any Decoder) throws {
        let top = try decoder.container(keyedBy: Key.self)
        let c = try top.nestedContainer(keyedBy: Key.self, forKey: Key("context"))
        context = Context(
            date: try c.decode(String.self, forKey: Key("date")),
            hostName: try c.decodeIfPresent(String.self, forKey: Key("host_name")) ?? "",
            executable: try c.decodeIfPresent(String.self, forKey: Key("executable")) ?? "",
            numberOfCPUs: try c.decodeIfPresent(Int.self, forKey: Key("num_cpus")) ?? 0,
            mhzPerCPU: try c.decodeIfPresent(Int.self, forKey: Key("mhz_per_cpu")) ?? 0,
            loadAverage: try c.decodeIfPresent([Double].self, forKey: Key("load_avg")) ?? [],
            libraryBuildType: try c.decodeIfPresent(String.self, forKey: Key("library_build_type")) ?? "",
            device: try c.decodeIfPresent(String.self, forKey: Key("device")) ?? "",
            driver: try c.decodeIfPresent(String.self, forKey: Key("driver")) ?? "",
            kernelVariant: try c.decodeIfPresent(String.self, forKey: Key("kernel_variant")) ?? "",
            copyBandwidthBytesPerSecond: try c.decodeIfPresent(Double.self, forKey: Key("copy_bandwidth_bytes_per_second")),
            regVersion: try c.decodeIfPresent(String.self, forKey: Key("reg_version")) ?? "",
            quick: try c.decodeIfPresent(Bool.self, forKey: Key("quick")) ?? false)

        var list = try top.nestedUnkeyedContainer(forKey: Key("benchmarks"))
        var rows: [Row] = []
        while !list.isAtEnd {
            let b = try list.nestedContainer(keyedBy: Key.self)
            let name = try b.decode(String.self, forKey: Key("name"))
            let parts = name.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else {
                throw DecodingError.dataCorruptedError(forKey: Key("name"), in: b,
                                                       debugDescription: "'\(name)' is not <operation>/<variant>/<size>")
            }
            let unit = try b.decode(String.self, forKey: Key("time_unit"))
            guard let perSecond = ["ns": 1e9, "us": 1e6, "ms": 1e3, "s": 1.0][unit] else {
                throw DecodingError.dataCorruptedError(forKey: Key("time_unit"), in: b, debugDescription: "unknown unit '\(unit)'")
            }
            let wall = try b.decode(Double.self, forKey: Key("real_time")) / perSecond
            let kernel = try (b.decodeIfPresent(Double.self, forKey: Key("kernel_time")) ?? wall * perSecond) / perSecond
            let label = try b.decodeIfPresent(String.self, forKey: Key("label")) ?? ""
            let split = label.range(of: " · ", options: .backwards)
            let variant = parts[1]
            let onDevice = variant != BenchmarkVariant.reference
            var stages: [String: Double] = [:]
            for key in b.allKeys where key.stringValue.hasPrefix(Self.stagePrefix) && key.stringValue.hasSuffix(Self.stageSuffix) {
                let stage = String(key.stringValue.dropFirst(Self.stagePrefix.count).dropLast(Self.stageSuffix.count))
                stages[stage] = try b.decode(Double.self, forKey: key) / perSecond
            }
            let record = BenchmarkRecord(
                operation: parts[0], variant: variant, size: parts[2],
                detail: split.map { String(label[$0.upperBound...]) } ?? label,
                backend: split.map { String(label[..<$0.lowerBound]) } ?? (onDevice ? context.device : "CPU reference (float64)"),
                elements: try b.decodeIfPresent(Int.self, forKey: Key("elements")) ?? 0,
                bytes: try b.decodeIfPresent(Int.self, forKey: Key("bytes")) ?? 0,
                medianSeconds: kernel, medianWallSeconds: wall,
                repeats: try b.decodeIfPresent(Int.self, forKey: Key("repetitions")) ?? 1,
                maxAbsErrorVsReference: try Self.number(b, "max_abs_error_vs_reference") ?? 0,
                stageSeconds: stages.isEmpty ? nil : stages)
            rows.append(Row(record, onDevice: onDevice, copyBandwidth: context.copyBandwidthBytesPerSecond,
                            familyIndex: try b.decodeIfPresent(Int.self, forKey: Key("family_index")) ?? 0,
                            perFamilyInstanceIndex: try b.decodeIfPresent(Int.self, forKey: Key("per_family_instance_index")) ?? 0))
        }
        self.rows = rows
    }

    /// A number, or one of the strings `json()` writes for NaN and the infinities.
    private static func number(_ container: KeyedDecodingContainer<Key>, _ key: String) throws -> Double? {
        if let value = try? container.decodeIfPresent(Double.self, forKey: Key(key)) { return value }
        switch try container.decodeIfPresent(String.self, forKey: Key(key)) {
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        case "NaN": return .nan
        default: return nil
        }
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
