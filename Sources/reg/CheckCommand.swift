import ArgumentParser
import Foundation
import REG
import REGDiagnostics
import REGRuntime

/// Runs every operation's random cases on an OpenCL device and on the float64 CPU reference.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Compare every operation on the OpenCL device with the float64 CPU reference on random cases.",
        discussion: """
            Prints one row per operation: cases, the largest absolute and relative errors, the \
            tolerance of the accuracy contract (docs/math.md), and PASS or FAIL. Exits 1 when any \
            operation fails. The device never falls back here: a device error is a FAIL. With no \
            OpenCL device (or --device reference) there is nothing to compare: it says so and \
            exits 0.
            """)

    @OptionGroup var deviceOption: DeviceOption

    @Option(parsing: .unconditional, help: "Random cases per operation (≥ 1).")
    var cases = 50

    @Option(help: "Seed of the random cases: the same seed gives the same cases on every machine.")
    var seed: UInt64 = 1

    @Option(help: "Check only this operation (\(CheckSuite.entries.map(\.operation).joined(separator: ", "))).")
    var only: String?

    // `.unconditional`: build options start with '-' (`--build-options -cl-fast-relaxed-math`).
    @Option(parsing: .unconditional, help: ArgumentHelp("Extra OpenCL program build options, e.g. -cl-fast-relaxed-math, to see whether the results stay within tolerance.", valueName: "options"))
    var buildOptions = ""

    func validate() throws {
        try requireAtLeast(cases, 1, "--cases")
        if let only, !CheckSuite.entries.contains(where: { $0.operation == only }) {
            throw ValidationError("--only: no operation named '\(only)'")
        }
    }

    func run() throws {
        let entries = CheckSuite.entries.filter { only == nil || $0.operation == only }
        let engine = try deviceOption.engine(fallback: .throwError, configuration: .init(buildOptions: buildOptions))
        guard let device = engine.device else {
            let why = engine.request == .reference
                ? "\(deviceOption.origin() ?? "--device") selects the CPU reference"
                : OpenCLLibrary.loadFailure ?? "no OpenCL device was found"
            print("reg check: no OpenCL device to check (\(why)). The CPU reference is the oracle, so there is nothing to compare.")
            return
        }
        print("Checking \(device) against the CPU reference (float64): \(cases) cases per operation, seed \(seed)"
              + (buildOptions.isEmpty ? "" : ", build options \(buildOptions)"))
        let rows = entries.flatMap(\.rows)
        let table = TextTable([("operation", rows.map(\.count).max() ?? 14, .left), ("cases", 5, .right), ("max abs error", 13, .right),
                               ("max rel error", 13, .right), ("tolerance", 40, .left), ("result", 6, .left)])
        print(table.header)
        let progress = Progress()
        var failures: [String] = []
        for entry in entries {
            progress.show("checking \(entry.operation)…")
            let outcomes: [CheckOutcome]
            do {
                outcomes = try entry.run(engine, cases, seed)
            } catch {
                // A device error fails every row of the operation: none of them was measured.
                progress.clear()
                for row in entry.rows { print(table.line([row, "–", "–", "–", "–", "FAIL"])) }
                failures.append("\(entry.operation): \(error)")
                continue
            }
            progress.clear()
            for outcome in outcomes {
                print(table.line([outcome.row, "\(outcome.cases)", significant(outcome.maxAbsoluteError),
                                  significant(outcome.maxRelativeError), outcome.tolerance, outcome.passed ? "PASS" : "FAIL"]))
                if !outcome.passed { failures.append("\(outcome.row): \(outcome.failure ?? "outside the tolerance")") }
            }
        }
        guard failures.isEmpty else {
            print("")
            for failure in failures { print("FAIL \(Self.abridged(failure))") }
            throw ExitCode.failure
        }
        print("All \(rows.count) checks within tolerance.")
    }

    /// The first lines of a failure: a build log can run to thousands of lines.
    static func abridged(_ text: String, lines limit: Int = 25) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > limit else { return text }
        return lines.prefix(limit).joined(separator: "\n") + "\n… (\(lines.count - limit) more lines)"
    }
}
