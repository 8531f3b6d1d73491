import ArgumentParser
import Foundation
import REG
import REGDiagnostics

/// Measures the device's copy bandwidth, then each operation on the device and the CPU reference.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark every operation on the OpenCL device and the CPU reference (release builds only).",
        discussion: """
            First measures the device's copy bandwidth (clEnqueueCopyBuffer, read + write), the \
            ceiling of a memory-bound kernel; then times each operation at several sizes: median \
            kernel time (OpenCL profiling events, data already on the device), median wall time \
            with transfers, throughput, GB/s from the bytes each operation must move, and that as a \
            percentage of the copy bandwidth.
            """)

    @OptionGroup var deviceOption: DeviceOption

    @Flag(help: "Small sizes and few repeats, for a smoke run.")
    var quick = false

    @Option(help: "Run only this operation (\(BenchmarkSuite.entries.map(\.operation).joined(separator: ", "))).")
    var only: String?

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    @Flag(help: "Print the results as a Markdown table (for docs/benchmarks.md).")
    var markdown = false

    @Option(help: ArgumentHelp("Also draw the throughput chart (GB/s, with the copy bandwidth) to this SVG file.", valueName: "file"))
    var svg: String?

    func validate() throws {
        if let only, !BenchmarkSuite.entries.contains(where: { $0.operation == only }) {
            throw ValidationError("--only: no operation named '\(only)'")
        }
        if json && markdown { throw ValidationError("--json and --markdown exclude each other") }
    }

    func run() throws {
        let entries = BenchmarkSuite.entries.filter { only == nil || $0.operation == only }
        let engine = try deviceOption.engine(fallback: .throwError)
        let reference = try Engine(device: .reference)
        #if DEBUG
        let optimized = false
        printError("reg bench: this is a debug build; its timings are not meaningful (build with -c release)")
        #else
        let optimized = true
        #endif
        let progress = Progress()
        let text = !json && !markdown

        progress.show("measuring the copy bandwidth…")
        let bandwidth = try engine.measuredCopyBandwidth(megabytes: quick ? 32 : 256)
        progress.clear()
        if text {
            print("device: \(engine.backend)")
            if let bandwidth {
                print("copy bandwidth: \(fixed(bandwidth / 1e9, 2)) GB/s (clEnqueueCopyBuffer, read + write)")
            } else {
                print("copy bandwidth: not measured (no OpenCL device)")
            }
        }
        let table = TextTable([("operation", 18, .left), ("backend", 13, .left), ("size", 22, .left),
                               ("median ms", 10, .right), ("wall ms", 10, .right), ("Melem/s", 10, .right),
                               ("GB/s", 8, .right), ("% copy", 6, .right)])
        if text { print(table.header) }

        let backends = engine.device == nil ? [engine] : [engine, reference]
        var rows: [BenchmarkReport.Row] = []
        var step = 0
        for entry in entries {
            for backend in backends {
                step += 1
                let onDevice = backend === engine && engine.device != nil
                progress.show("[\(step)/\(entries.count * backends.count)] \(entry.operation) on \(onDevice ? "the device" : "the CPU reference")…")
                let records = try entry.run(backend, quick)
                progress.clear()
                for record in records {
                    let row = BenchmarkReport.Row(record, onDevice: onDevice, copyBandwidth: bandwidth)
                    rows.append(row)
                    if text {
                        print(table.line(Self.cells(row)))
                        if let stages = row.stageSummary { print("    \(stages)") }
                    }
                }
            }
        }

        let report = BenchmarkReport(device: "\(engine.backend)", copyBandwidth: bandwidth, quick: quick,
                                     optimized: optimized, rows: rows)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
        if markdown { print(Self.markdown(report)) }
        if let svg {
            do {
                try ThroughputChart.svg(report).write(toFile: svg, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("--svg: cannot write \(svg): \((error as NSError).localizedDescription)")
            }
        }
    }

    /// The table cells of a row; the device itself is named once, above the table.
    static func cells(_ row: BenchmarkReport.Row) -> [String] {
        [row.operation, row.onDevice ? "OpenCL device" : "CPU reference", row.size,
         fixed(row.medianSeconds * 1e3, 3), fixed(row.medianWallSeconds * 1e3, 3),
         fixed(row.elementsPerSecond / 1e6, 1), fixed(row.gigabytesPerSecond, 2),
         row.percentOfCopyBandwidth.map { fixed($0, 0) + "%" } ?? "–"]
    }

    static func markdown(_ report: BenchmarkReport) -> String {
        let bandwidth = report.copyBandwidthGigabytesPerSecond.map { fixed($0, 2) + " GB/s (clEnqueueCopyBuffer, read + write)" }
        var lines = ["Device: \(report.device)  ", "Copy bandwidth: \(bandwidth ?? "not measured (no OpenCL device)")", "",
                     "| operation | backend | size | median ms | wall ms | Melem/s | GB/s | % of copy bandwidth |",
                     "|---|---|---|--:|--:|--:|--:|--:|"]
        for row in report.rows {
            lines.append("| " + cells(row).joined(separator: " | ") + " |")
        }
        let staged = report.rows.filter { $0.stageSummary != nil }
        if !staged.isEmpty { lines.append("") }
        for row in staged { lines.append("- \(row.operation) \(row.size): \(row.stageSummary!)") }
        return lines.joined(separator: "\n")
    }
}
