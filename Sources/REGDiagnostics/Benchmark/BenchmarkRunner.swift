import Foundation
import REG
#if canImport(Glibc)
import Glibc
#endif

/// `reg bench` itself: measures the device's copy bandwidth, then runs the selected rows on the
/// device and on the CPU reference, and returns the report. The command prints what `event`
/// reports as it comes; the tests call this with the smoke sizes.
public enum BenchmarkRunner {
    public enum Event {
        /// Bytes/s, nil without a device.
        case copyBandwidth(Double?)
        /// Row `number` of `count` is about to run.
        case starting(BenchmarkJob, number: Int, count: Int)
        case finished(BenchmarkReport.Row)
    }

    /// Runs `jobs` (from `BenchmarkSuite.jobs`) on `engine` (an OpenCL device that throws instead
    /// of falling back, or the CPU reference) and the CPU reference.
    public static func run(on engine: Engine, _ jobs: [BenchmarkJob], _ options: BenchmarkOptions,
                           event: (Event) -> Void = { _ in }) throws -> BenchmarkReport {
        let megabytes = switch options.scale { case .full: 256; case .quick: 32; case .smoke: 4 }
        let bandwidth = try engine.measuredCopyBandwidth(megabytes: megabytes, repeats: options.scale == .smoke ? 3 : 10)
        event(.copyBandwidth(bandwidth))
        let reference = try Engine(device: .reference, environment: [:])

        // Google Benchmark's families: `<operation>/<variant>` in order of first appearance.
        var families: [String: Int] = [:], instances: [String: Int] = [:]
        var rows: [BenchmarkReport.Row] = []
        for (number, job) in jobs.enumerated() {
            event(.starting(job, number: number + 1, count: jobs.count))
            let record = try job.measure(job.onDevice ? engine : reference, options.repetitions)
            let family = "\(job.operation)/\(job.variant)"
            let familyIndex = families[family] ?? families.count
            families[family] = familyIndex
            let row = BenchmarkReport.Row(record, onDevice: job.onDevice, copyBandwidth: bandwidth, familyIndex: familyIndex,
                                          perFamilyInstanceIndex: instances[family, default: 0])
            instances[family, default: 0] += 1
            rows.append(row)
            event(.finished(row))
        }
        return BenchmarkReport(context: context(engine: engine, copyBandwidth: bandwidth, quick: options.scale != .full),
                               rows: rows)
    }

    /// Google Benchmark's context fields for this machine and process, and REG's own.
    public static func context(engine: Engine, copyBandwidth: Double?, quick: Bool, date: Date = Date()) -> BenchmarkReport.Context {
        #if DEBUG
        let buildType = "debug"
        #else
        let buildType = "release"
        #endif
        var load = [Double](repeating: 0, count: 3)
        let samples = getloadavg(&load, 3)
        return BenchmarkReport.Context(
            date: ISO8601DateFormatter().string(from: date), hostName: hostName(),
            executable: CommandLine.arguments.first ?? "reg",
            numberOfCPUs: ProcessInfo.processInfo.activeProcessorCount, mhzPerCPU: megahertz(),
            loadAverage: samples > 0 ? Array(load.prefix(Int(samples))) : [], libraryBuildType: buildType,
            device: "\(engine.backend)", driver: engine.device?.driverVersion ?? "",
            kernelVariant: engine.kernelVariant.map(String.init(describing:)) ?? "",
            copyBandwidthBytesPerSecond: copyBandwidth, regVersion: REGVersion.current, quick: quick)
    }

    private static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The first "cpu MHz" of /proc/cpuinfo, rounded; 0 where there is none.
    private static func megahertz() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("cpu MHz") {
            if let value = line.split(separator: ":").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
                return Int(value.rounded())
            }
        }
        return 0
    }
}
