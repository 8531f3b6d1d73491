import Foundation
import Testing
import REG
import REGRuntime
@testable import REGDiagnostics

/// `reg bench --json` in Google Benchmark's schema, through the function the command calls
/// (`BenchmarkRunner.run`) at the smoke sizes: every field, its type, the row names, and the
/// device's error against the float64 reference.
@Suite("Benchmark JSON (Google Benchmark schema)")
struct BenchJSONTests {
    /// The row names (docs/cli.md): `<operation>/<variant>/<size>`, the size `2^k` or terms like
    /// `8x512x512xC5` (batch × height × width, then C classes, B boxes per image) joined by `+`.
    static let namePattern = #"^[a-z]+(-[a-z]+)*/(f32|f16|reference)/(2\^[0-9]+|[0-9]+(x[0-9]+)*(x[BC][0-9]+)*(\+[0-9]+(x[0-9]+)*(x[BC][0-9]+)*)*)$"#
    static let operations = ["refinement", "focal-det", "focal-det-refine", "focal-det-refine-sigma", "focal-seg-softmax",
                             "edt", "box-distance", "step"]

    static var hasDevice: Bool { (try? Device.all())?.isEmpty == false }

    @Test("On the CPU reference: every row, every field, errors 0")
    func reference() throws {
        let engine = try Engines.reference()
        let options = BenchmarkOptions(scale: .smoke)
        let report = try BenchmarkRunner.run(on: engine, BenchmarkSuite.jobs(onDevice: false, options), options)
        let benchmarks = try Self.validate(report.json(), device: false)
        #expect(Set(benchmarks.map { Self.operation($0) }) == Set(Self.operations))
        for entry in benchmarks {
            #expect(entry["max_abs_error_vs_reference"] as? Double == 0, "reference rows report 0: \(entry["name"]!)")
            #expect(entry["percent_of_copy_bandwidth"] == nil)
            #expect(entry["kernel_time"] as? Double == entry["real_time"] as? Double, "kernel time is the wall time")
        }
    }

    @Test("On the OpenCL device: f32 and reference rows, errors finite and small", .enabled(if: hasDevice))
    func device() throws {
        let engine = try Engines.device()
        let options = BenchmarkOptions(scale: .smoke)
        let report = try BenchmarkRunner.run(on: engine, BenchmarkSuite.jobs(onDevice: true, options), options)
        let benchmarks = try Self.validate(report.json(), device: true)
        let onDevice = benchmarks.filter { Self.variant($0) != "reference" }
        let f32 = onDevice.filter { Self.variant($0) == "f32" }
        #expect(Set(f32.map { Self.operation($0) }) == Set(Self.operations))
        #expect(benchmarks.count - onDevice.count == f32.count, "one reference row per f32 row at the smoke sizes")
        #expect(Set(onDevice.filter { Self.variant($0) == "f16" }.map { Self.operation($0) })
                == ["focal-det-refine", "focal-seg-softmax"], "half-precision rows")
        for entry in onDevice {
            let error = try #require(entry["max_abs_error_vs_reference"] as? Double)
            #expect(error.isFinite && error < 1e-3, "\(entry["name"]!): \(error)")
            #expect(entry["percent_of_copy_bandwidth"] as? Double != nil, "\(entry["name"]!)")
        }
        // The step's stages are counters too.
        let step = try #require(onDevice.first { Self.operation($0) == "step" })
        #expect(step["stage_focal_time"] as? Double != nil && step["stage_distances_time"] as? Double != nil)

        // The JSON reads back into the report (the chart and tables read it).
        let decoded = try JSONDecoder().decode(BenchmarkReport.self, from: Data(report.json().utf8))
        #expect(decoded.rows.map(\.name) == report.rows.map(\.name))
        #expect(decoded.rows.map(\.label) == report.rows.map(\.label))
        #expect(decoded.rows.map(\.onDevice) == report.rows.map(\.onDevice))
        #expect(decoded.device == report.device && decoded.copyBandwidthGigabytesPerSecond == report.copyBandwidthGigabytesPerSecond)
        for (a, b) in zip(decoded.rows, report.rows) {
            #expect(a.bytes == b.bytes && a.elements == b.elements && a.repeats == b.repeats)
            #expect(abs(a.medianSeconds - b.medianSeconds) <= 1e-12 * b.medianSeconds)
            #expect(a.maxAbsErrorVsReference == b.maxAbsErrorVsReference)
        }
    }

    @Test("--filter, --only, --no-reference and --repetitions choose and time the rows before anything runs")
    func selection() throws {
        func names(onDevice: Bool = true, _ options: BenchmarkOptions) -> [String] {
            BenchmarkSuite.jobs(onDevice: onDevice, options).map(\.name)
        }
        let full = names(BenchmarkOptions())
        for required in ["focal-det-refine/f32/2^22", "focal-det-refine/f32/2^24", "focal-det-refine/reference/2^22",
                         "focal-det-refine/reference/2^24", "focal-seg-softmax/f32/8x256x512xC5",
                         "edt/f32/8x512x512xC5", "edt/f32/8x2048x2048xC5", "edt/reference/8x2048x2048xC5",
                         "box-distance/f32/8x512x512xB20xC80", "step/f32/8x512x512xC5+100000xC7"] {
            #expect(full.contains(required), "\(required)")
        }
        #expect(Set(full).count == full.count, "names are unique")
        let pattern = try NSRegularExpression(pattern: Self.namePattern)
        for scale in BenchmarkScale.allCases {
            for name in names(BenchmarkOptions(scale: scale)) {
                #expect(pattern.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil, "\(name)")
            }
        }
        #expect(names(BenchmarkOptions(scale: .quick)).contains("focal-det-refine/f32/2^16"))

        let refine = names(BenchmarkOptions(filter: try BenchmarkFilter("^focal-det-refine/")))
        #expect(!refine.isEmpty && refine.allSatisfy { $0.hasPrefix("focal-det-refine/") })
        let notReference = names(BenchmarkOptions(filter: try BenchmarkFilter("-reference")))
        #expect(!notReference.isEmpty && notReference.allSatisfy { $0.contains("/f32/") || $0.contains("/f16/") })
        #expect(names(BenchmarkOptions(includeReference: false)) == notReference)
        #expect(names(onDevice: false, BenchmarkOptions(includeReference: false)).isEmpty,
                "without a device the reference rows are all there is")
        #expect(Set(names(BenchmarkOptions(only: "edt")).map { $0.split(separator: "/")[0] }) == ["edt"])
        #expect(names(BenchmarkOptions(only: "distance-transform")) == names(BenchmarkOptions(only: "edt")))
        #expect(Set(names(BenchmarkOptions(only: "focal-loss")).map { $0.split(separator: "/")[0] })
                == ["focal-det", "focal-det-refine", "focal-det-refine-sigma", "focal-seg-softmax"])
        #expect(names(BenchmarkOptions(only: "edt", filter: try BenchmarkFilter("step"))).isEmpty)
        #expect(throws: (any Error).self) { try BenchmarkFilter("(") }

        // Only the selected rows run, with the repetitions asked for.
        let options = BenchmarkOptions(scale: .smoke, filter: try BenchmarkFilter("^refinement/"), repetitions: 1)
        let report = try BenchmarkRunner.run(on: try Engines.reference(), BenchmarkSuite.jobs(onDevice: false, options), options)
        #expect(report.rows.map(\.name) == ["refinement/reference/2^12"])
        #expect(report.rows.allSatisfy { $0.repeats == 1 })
    }

    // MARK: - The schema

    /// Parses `json` with JSONSerialization and checks every field of the schema (docs/cli.md);
    /// returns the benchmark entries.
    static func validate(_ json: String, device: Bool) throws -> [[String: Any]] {
        let top = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(Set(top.keys) == ["context", "benchmarks"])
        let context = try #require(top["context"] as? [String: Any])
        for key in ["date", "host_name", "executable", "library_build_type", "device", "driver", "reg_version"] {
            #expect(context[key] as? String != nil, "context.\(key)")
        }
        for key in ["num_cpus", "mhz_per_cpu", "json_schema_version"] { #expect(context[key] as? Int != nil, "context.\(key)") }
        #expect(ISO8601DateFormatter().date(from: context["date"] as? String ?? "") != nil)
        #expect(["release", "debug"].contains(context["library_build_type"] as? String))
        #expect(context["reg_version"] as? String == REGVersion.current)
        #expect(context["load_avg"] as? [Any] != nil)
        if device {
            #expect(((context["copy_bandwidth_bytes_per_second"] as? Double) ?? 0) > 0)
            #expect((context["device"] as? String)?.hasPrefix("OpenCL: ") == true)
            #expect((context["driver"] as? String)?.isEmpty == false)
        } else {
            #expect(context["copy_bandwidth_bytes_per_second"] is NSNull, "null without a device")
            #expect(context["driver"] as? String == "")
        }

        let benchmarks = try #require(top["benchmarks"] as? [[String: Any]])
        #expect(!benchmarks.isEmpty)
        let pattern = try NSRegularExpression(pattern: namePattern)
        var families: [String: Int] = [:], instances: [Int: Int] = [:]
        for entry in benchmarks {
            let name = try #require(entry["name"] as? String)
            #expect(pattern.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil, "\(name)")
            #expect(entry["run_name"] as? String == name)
            #expect(entry["run_type"] as? String == "aggregate" && entry["aggregate_name"] as? String == "median")
            #expect(entry["aggregate_unit"] as? String == "time" && entry["time_unit"] as? String == "ms")
            #expect(entry["threads"] as? Int == 1 && entry["iterations"] as? Int == 1)
            #expect(((entry["repetitions"] as? Int) ?? 0) >= 1)
            for key in ["real_time", "cpu_time", "kernel_time", "items_per_second", "bytes_per_second",
                        "max_abs_error_vs_reference"] {
                let value = try #require(entry[key] as? Double, "\(name): \(key)")
                #expect(value.isFinite && value >= 0, "\(name): \(key) = \(value)")
            }
            #expect(((entry["real_time"] as? Double) ?? 0) > 0 && ((entry["kernel_time"] as? Double) ?? 0) > 0)
            let elements = try #require(entry["elements"] as? Int), bytes = try #require(entry["bytes"] as? Int)
            let kernelSeconds = (entry["kernel_time"] as? Double ?? .nan) / 1e3
            #expect(abs((entry["items_per_second"] as? Double ?? 0) * kernelSeconds - Double(elements)) <= 1e-6 * Double(elements))
            #expect(abs((entry["bytes_per_second"] as? Double ?? 0) * kernelSeconds - Double(bytes)) <= 1e-6 * Double(bytes))
            let label = try #require(entry["label"] as? String)
            #expect(label.hasPrefix(variant(entry) == "reference" ? "CPU reference" : "OpenCL: ") && label.contains(" · "))

            // Families: `<operation>/<variant>`, numbered in order of first appearance; instances
            // numbered within each.
            let family = try #require(entry["family_index"] as? Int)
            let key = "\(operation(entry))/\(variant(entry))"
            #expect(family == families[key, default: families.count], "\(name)")
            families[key] = family
            #expect(entry["per_family_instance_index"] as? Int == instances[family, default: 0], "\(name)")
            instances[family, default: 0] += 1
        }
        return benchmarks
    }

    static func operation(_ entry: [String: Any]) -> String {
        String((entry["name"] as? String ?? "").split(separator: "/")[0])
    }

    static func variant(_ entry: [String: Any]) -> String {
        String((entry["name"] as? String ?? "").split(separator: "/")[1])
    }
}
