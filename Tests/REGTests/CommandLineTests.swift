import Foundation
import Testing
import REG
@testable import REGDiagnostics

/// `reg` end to end: its subcommands, exit codes and machine-readable output.
@Suite("Command line: check, bench, help, device errors")
struct CommandLineTests {
    @Test("reg check --cases 5 passes on the OpenCL device")
    func checkPasses() throws {
        let outcome = try CommandLineTool.run(["check", "--cases", "5", "--device", "0"])
        #expect(outcome.status == 0, "\(outcome.standardOutput)\(outcome.standardError)")
        let rows = outcome.standardOutput.split(separator: "\n").filter { $0.hasPrefix("refinement") }
        #expect(rows.count == 1 && rows[0].hasSuffix("PASS") && rows[0].contains(" 5 "), "\(outcome.standardOutput)")
        #expect(outcome.standardOutput.contains("max abs error") && !outcome.standardOutput.contains("FAIL"))
    }

    @Test("reg check exits 1 when the device fails, naming the operation")
    func checkFails() throws {
        let outcome = try CommandLineTool.run(["check", "--cases", "2", "--device", "0", "--build-options=-DREG_FAIL_BUILD=1"])
        #expect(outcome.status == 1)
        #expect(outcome.standardOutput.contains("FAIL refinement: clBuildProgram"), "\(outcome.standardOutput.prefix(2000))")
        #expect(outcome.standardOutput.contains("fails on purpose"), "the build log is shown")
    }

    @Test("reg check with bad build options shows no PASS for any operation (each call throws)",
          arguments: ["-bogus-flag", "-DREG_FAIL_BUILD=1"])
    func checkNeverPassesAFailedBuild(options: String) throws {
        let outcome = try CommandLineTool.run(["check", "--cases", "2", "--device", "0", "--build-options=\(options)"])
        #expect(outcome.status == 1)
        let rows = outcome.standardOutput.split(separator: "\n").filter { $0.hasSuffix("PASS") || $0.hasSuffix("FAIL") }
        #expect(rows.count == CheckSuite.entries.flatMap(\.rows).count, "\(outcome.standardOutput.prefix(2000))")
        for row in rows { #expect(row.hasSuffix("FAIL"), "\(row)") }
    }

    @Test("reg check with the CPU reference says there is nothing to compare, and exits 0")
    func checkWithoutDevice() throws {
        let outcome = try CommandLineTool.run(["check", "--device", "cpu"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.contains("no OpenCL device to check"))
    }

    @Test("reg check without an OpenCL library says there is nothing to compare, and exits 0")
    func checkWithoutDriver() throws {
        let outcome = try CommandLineTool.run(["check"], environment: ["REG_OPENCL_LIBRARY": "/nonexistent/libOpenCL.so.1"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput.contains("no OpenCL device to check (cannot load"), "\(outcome.standardOutput)")
    }

    @Test("reg bench --quick --json parses, with the copy bandwidth and its percentage; --svg draws it")
    func benchJSON() throws {
        let svg = FileManager.default.temporaryDirectory.appendingPathComponent("reg-bench-\(getpid()).svg")
        defer { try? FileManager.default.removeItem(at: svg) }
        let outcome = try CommandLineTool.run(["bench", "--quick", "--json", "--only", "refinement", "--device", "0",
                                               "--svg", svg.path])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let report = try JSONDecoder().decode(BenchmarkReport.self, from: Data(outcome.standardOutput.utf8))
        let bandwidth = try #require(report.copyBandwidthGigabytesPerSecond)
        #expect(bandwidth > 0 && report.quick && report.device.hasPrefix("OpenCL: "))
        #expect(!report.optimized, "tests run a debug build")
        #expect(ISO8601DateFormatter().date(from: report.date) != nil)
        let onDevice = report.rows.filter(\.onDevice), onReference = report.rows.filter { !$0.onDevice }
        #expect(onDevice.count == 2 && onReference.count == 2)
        for row in report.rows {
            #expect(row.operation == "refinement" && row.medianSeconds > 0 && row.bytes == 8 * row.elements)
            #expect(abs(row.gigabytesPerSecond - Double(row.bytes) / row.medianSeconds / 1e9) < 1e-9 * row.gigabytesPerSecond)
        }
        for row in onDevice {
            let percent = try #require(row.percentOfCopyBandwidth)
            #expect(abs(percent - 100 * row.gigabytesPerSecond / bandwidth) < 1e-6 * percent)
        }
        #expect(onReference.allSatisfy { $0.percentOfCopyBandwidth == nil })

        let chart = try String(contentsOf: svg, encoding: .utf8)
        #expect(chart.hasPrefix("<svg") && chart.hasSuffix("</svg>\n"))
        #expect(chart.components(separatedBy: "<title>").count - 1 == report.rows.count, "one bar per record")
        #expect(chart.contains("device copy bandwidth"))
    }

    @Test("--help works for every subcommand", arguments: ["devices", "loss", "edt", "box-distance", "check", "bench", "refine", "demo"])
    func help(subcommand: String) throws {
        let outcome = try CommandLineTool.run([subcommand, "--help"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.contains("USAGE: reg \(subcommand)"), "\(outcome.standardOutput)")
        if subcommand != "devices" { #expect(outcome.standardOutput.contains("--device <device>")) }
    }

    @Test("A --device that names nothing is a clear error and a non-zero exit",
          arguments: [["check"], ["bench", "--quick"], ["demo", "--size", "16", "--steps", "1"]], ["99", "no such gpu"])
    func badDevice(command: [String], device: String) throws {
        let outcome = try CommandLineTool.run(command + ["--device", device])
        #expect(outcome.status != 0)
        #expect(outcome.standardError.contains("--device: "), "\(outcome.standardError)")
        #expect(outcome.standardError.contains(device == "99" ? "device index 99 does not exist" : "no OpenCL device matches 'no such gpu'"))
    }

    @Test("Bad options are usage errors", arguments: [
        ["check", "--cases", "0"], ["check", "--only", "nothing"], ["bench", "--only", "nothing"],
        ["bench", "--json", "--markdown"],
    ])
    func badOptions(arguments: [String]) throws {
        let outcome = try CommandLineTool.run(arguments)
        #expect(outcome.status == 64, "\(outcome.standardError)")
        #expect(outcome.standardError.hasPrefix("Error: "))
    }
}
