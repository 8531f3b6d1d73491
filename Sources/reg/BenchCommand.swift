import ArgumentParser
import Foundation
import REG

/// Measures the device's copy bandwidth, then each operation on the device and the CPU reference.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark every operation on the OpenCL device and the CPU reference (release builds only).")

    @OptionGroup var deviceOption: DeviceOption

    @Flag(help: "Small sizes and few repeats, for a smoke run.")
    var quick = false

    @Option(help: "Run only this operation (\(BenchmarkSuite.entries.map(\.operation).joined(separator: ", "))).")
    var only: String?

    func run() throws {
        let entries = BenchmarkSuite.entries.filter { only == nil || $0.operation == only }
        guard !entries.isEmpty else { throw ValidationError("--only: no operation named '\(only ?? "")'") }
        let engine = try deviceOption.engine(fallback: .throwError)
        let reference = try Engine(device: .reference)
        if let bandwidth = try engine.measuredCopyBandwidth(megabytes: quick ? 32 : 256) {
            print(String(format: "%@: copy bandwidth %.2f GB/s (clEnqueueCopyBuffer, read + write)",
                         "\(engine.backend)", bandwidth / 1e9))
        }
        print("operation        backend                 size                    median ms   wall ms    Melem/s     GB/s")
        for entry in entries {
            for backend in engine.device == nil ? [engine] : [engine, reference] {
                for record in try entry.run(backend, quick) {
                    print(String(format: "%-16@ %-23@ %-22@ %10.3f %9.3f %10.1f %8.2f",
                                 record.operation, String("\(record.backend)".prefix(23)), record.size,
                                 record.medianSeconds * 1e3, record.medianWallSeconds * 1e3,
                                 record.elementsPerSecond / 1e6, record.gigabytesPerSecond))
                }
            }
        }
    }
}
