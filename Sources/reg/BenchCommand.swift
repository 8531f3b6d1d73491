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
            ceiling of a memory-bound kernel; then times each row, named \
            <operation>/<variant>/<size> (e.g. focal-det-refine/f32/2^22, edt/reference/8x512x512xC5): \
            median kernel time (OpenCL profiling events, data already on the device), median wall \
            time with transfers, throughput, GB/s from the bytes each operation must move, that as a \
            percentage of the copy bandwidth, and the largest difference from the float64 reference \
            on the same input. --json prints Google Benchmark's JSON schema (compare.py reads it).
            """)

    @OptionGroup var deviceOption: DeviceOption

    @Flag(help: "Small sizes and few repeats, for a smoke run.")
    var quick = false

    @Option(help: ArgumentHelp("Run only this operation: \(BenchCommand.operations.joined(separator: ", ")).",
                               valueName: "operation"))
    var only: String?

    @Option(help: ArgumentHelp("Run only the rows whose name matches this regular expression (searched anywhere in <operation>/<variant>/<size>; a leading - negates it), as Google Benchmark's --benchmark_filter.",
                               valueName: "regex"))
    var filter: String?

    @Option(help: ArgumentHelp("Timed runs per row (the medians are over these), instead of each row's own count.",
                               valueName: "n"))
    var repetitions: Int?

    @Flag(help: "Skip the CPU reference rows (the device rows still compare with the float64 reference).")
    var noReference = false

    @Flag(help: "Print the names of the rows that would run, one a line, and run nothing.")
    var list = false

    @Flag(help: "Print the results in Google Benchmark's JSON schema instead of a table.")
    var json = false

    @Flag(help: "Print the results as a Markdown table (for docs/benchmarks.md).")
    var markdown = false

    @Option(help: ArgumentHelp("Also draw the throughput chart (GB/s, with the copy bandwidth) to this SVG file.", valueName: "file"))
    var svg: String?

    /// What `--only` takes: the descriptors' names and the row operations.
    static var operations: [String] {
        var names = BenchmarkSuite.entries.map(\.operation)
        for name in BenchmarkSuite.rowOperations where !names.contains(name) { names.append(name) }
        return names
    }

    func validate() throws {
        if let only, !Self.operations.contains(only) {
            throw ValidationError("--only: no operation named '\(only)'")
        }
        if let filter {
            do { _ = try BenchmarkFilter(filter) } catch {
                throw ValidationError("--filter: '\(filter)' is not a regular expression")
            }
        }
        if let repetitions, repetitions < 1 { throw ValidationError("--repetitions: must be ≥ 1, got \(repetitions)") }
        if json && markdown { throw ValidationError("--json and --markdown exclude each other") }
    }

    func run() throws {
        let options = BenchmarkOptions(scale: quick ? .quick : .full, only: only, filter: try filter.map(BenchmarkFilter.init),
                                       repetitions: repetitions, includeReference: !noReference)
        let engine = try deviceOption.engine(fallback: .throwError)
        let jobs = BenchmarkSuite.jobs(onDevice: engine.device != nil, options)
        if list {
            for job in jobs { print(job.name) }
            return
        }
        guard !jobs.isEmpty else {
            let why = engine.device == nil && noReference
                ? "the engine is the CPU reference (no OpenCL device), and --no-reference skips its rows"
                : "no row matches\(only.map { " --only \($0)" } ?? "")\(filter.map { " --filter '\($0)'" } ?? "")"
                    + " (reg bench --list shows the rows)"
            throw ValidationError("nothing to run: \(why)")
        }
        #if DEBUG
        printError("reg bench: this is a debug build; its timings are not meaningful (build with -c release)")
        #endif
        let progress = Progress()
        let text = !json && !markdown
        let table = TextTable([("benchmark", 44, .left), ("median ms", 10, .right), ("wall ms", 10, .right),
                               ("Melem/s", 10, .right), ("GB/s", 8, .right), ("% copy", 6, .right),
                               ("max |Δ|", 9, .right)])

        progress.show("measuring the copy bandwidth…")
        let report = try BenchmarkRunner.run(on: engine, jobs, options) { event in
            switch event {
            case .copyBandwidth(let bandwidth):
                progress.clear()
                guard text else { return }
                print("device: \(engine.backend)" + (engine.kernelVariant.map { ", focal kernels \($0)" } ?? ""))
                if let bandwidth {
                    print("copy bandwidth: \(fixed(bandwidth / 1e9, 2)) GB/s (clEnqueueCopyBuffer, read + write)")
                } else {
                    print("copy bandwidth: not measured (no OpenCL device)")
                }
                print(table.header)
            case .starting(let job, let number, let count):
                progress.show("[\(number)/\(count)] \(job.name)…")
            case .finished(let row):
                progress.clear()
                guard text else { return }
                print(table.line([row.name] + Self.figures(row)))
                if let stages = row.stageSummary { print("    \(stages)") }
            }
        }

        if json { print(report.json(), terminator: "") }
        if markdown { print(Self.markdown(report)) }
        if let svg {
            do {
                try ThroughputChart.svg(report).write(toFile: svg, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("--svg: cannot write \(svg): \((error as NSError).localizedDescription)")
            }
        }
    }

    /// A row's figures, after its name; the device itself is named once, above the table.
    static func figures(_ row: BenchmarkReport.Row) -> [String] {
        [fixed(row.medianSeconds * 1e3, 3), fixed(row.medianWallSeconds * 1e3, 3),
         fixed(row.elementsPerSecond / 1e6, 1), fixed(row.gigabytesPerSecond, 2),
         row.percentOfCopyBandwidth.map { fixed($0, 0) + "%" } ?? "–",
         row.onDevice ? significant(row.maxAbsErrorVsReference, 2) : "–"]
    }

    static func markdown(_ report: BenchmarkReport) -> String {
        let bandwidth = report.copyBandwidthGigabytesPerSecond.map { fixed($0, 2) + " GB/s (clEnqueueCopyBuffer, read + write)" }
        var lines = ["Device: \(report.device)  ", "Copy bandwidth: \(bandwidth ?? "not measured (no OpenCL device)")", "",
                     "| benchmark | size | median ms | wall ms | Melem/s | GB/s | % of copy bandwidth | max abs error vs reference |",
                     "|---|---|--:|--:|--:|--:|--:|--:|"]
        for row in report.rows {
            lines.append("| " + (["`\(row.name)`", row.detail] + figures(row)).joined(separator: " | ") + " |")
        }
        let staged = report.rows.filter { $0.stageSummary != nil }
        if !staged.isEmpty { lines.append("") }
        for row in staged { lines.append("- `\(row.name)`: \(row.stageSummary!)") }
        return lines.joined(separator: "\n")
    }
}
