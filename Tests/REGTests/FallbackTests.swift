import Foundation
import Testing
import REGRuntime
@testable import REG

@Suite("CPU fallback")
struct FallbackTests {
    static let distances = RefinementTests.distances(count: 4099, seed: 42)
    static let refinement = Refinement(beta: 0.7, delta: 12)

    @Test("REG_DEVICE=cpu selects the reference and gives its results")
    func forcedReference() throws {
        let engine = try Engine(environment: ["REG_DEVICE": "cpu"])
        #expect(engine.device == nil)
        let expected = try RefinementReference.refine(distances: Self.distances, Self.refinement).map(Float.init)
        let same = try engine.refine(distances: Self.distances, Self.refinement) == expected
        #expect(same)
    }

    @Test("A program that fails to build falls back with one warning, and the results are complete")
    func buildFailureFallsBack() throws {
        let log = LogRecorder()
        // The kernels' test hook: every program fails to build, with one error that says so.
        let engine = try Engine(device: .index(0), configuration: .init(buildOptions: "-DREG_FAIL_BUILD=1"),
                                logger: log.logger, environment: [:])
        let expected = try Engines.reference().refine(distances: Self.distances, Self.refinement)
        for _ in 0..<2 {
            let same = try engine.refine(distances: Self.distances, Self.refinement) == expected
            #expect(same)
        }
        #expect(log.warnings.count == 1, "\(log.warnings)")
        #expect(log.warnings.first?.contains("CL_BUILD_PROGRAM_FAILURE") == true)
        #expect(engine.device != nil, "a build failure moves only that operation to the reference")
    }

    @Test("With the fallback off, the build failure is thrown")
    func buildFailureThrows() throws {
        let engine = try Engine(device: .index(0), fallback: .throwError,
                                configuration: .init(buildOptions: "-DREG_FAIL_BUILD=1"), environment: [:])
        let error = try #require(throws: OpenCLError.self) {
            _ = try engine.refine(distances: Self.distances, Self.refinement)
        }
        #expect(error.buildLog?.isEmpty == false)
    }

    @Test("An unknown device index or name is a clear error")
    func unknownDevice() {
        #expect(throws: DeviceSelectionError.self) { try Engine(device: .index(99), environment: [:]) }
        #expect(throws: DeviceSelectionError.self) { try Engine(environment: ["REG_DEVICE": "no such device"]) }
    }

    @Test("No OpenCL driver: `reg devices` names the CPU reference and `reg demo` completes",
          arguments: [["OCL_ICD_VENDORS": "EMPTY"], ["REG_OPENCL_LIBRARY": "/nonexistent/libOpenCL.so.1"]])
    func noDriver(environment: [String: String]) throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("reg-no-vendors-\(getpid())")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let env = environment.mapValues { $0 == "EMPTY" ? empty.path : $0 }

        let devices = try CommandLineTool.run(["devices"], environment: env)
        #expect(devices.status == 0)
        #expect(devices.standardOutput.contains("auto picks the CPU reference"), "\(devices.standardOutput)")
        let json = try CommandLineTool.run(["devices", "--json"], environment: env)
        let listing = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        #expect((listing?["devices"] as? [Any])?.isEmpty == true)
        #expect(listing?["auto"] as? String == "cpu")

        let demo = try CommandLineTool.run(["demo", "--size", "48", "--steps", "5", "--batch", "2", "--eval-scenes", "4"],
                                           environment: env)
        #expect(demo.status == 0, "\(demo.standardError)")
        #expect(demo.standardOutput.contains("device: CPU reference"))
        #expect(demo.standardError.contains("warning"), "one logged warning says why: \(demo.standardError)")
    }
}
