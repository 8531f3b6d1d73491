import Foundation
import Testing
import REG

/// The C API (Sources/REGC/include/reg.h, libregc.so) from C: Tests/CClient/client.c is compiled
/// with `cc` against the header and linked with the libregc.so of this build, and what it prints
/// is compared with `Engine(device: .reference)` on the same inputs: its reference engine must give
/// exactly the Swift reference's numbers, its device engine ("0") agree within the accuracy
/// contract (docs/math.md §7), and its errors carry REG's own messages and the right statuses.
@Suite("C API")
struct CABITests {
    /// The package's root folder.
    static let root = PackageRoot.url

    /// What the client printed, once per test run, or why it could not be had.
    static let client: Swift.Result<ClientOutput, SetupFailure> = runClient()

    /// The client's lines by their first two words ("det_grad device", "error nan_step", …), each
    /// with the words after them.
    struct ClientOutput {
        let lines: [String: [String]]
        let text: String

        func words(_ key: String) throws -> [String] {
            guard let words = lines[key] else {
                throw SetupFailure(description: "the client printed no line `\(key)`; it printed:\n\(text)")
            }
            return words
        }

        func floats(_ key: String) throws -> [Float] {
            try words(key).map { word in
                guard let value = Float(word) else { throw SetupFailure(description: "`\(key)`: \(word) is not a float") }
                return value
            }
        }

        func double(_ key: String, _ i: Int) throws -> Double {
            let word = try words(key)[i]
            guard let value = Double(word) else { throw SetupFailure(description: "`\(key)`: \(word) is not a double") }
            return value
        }

        func int(_ key: String, _ i: Int) throws -> Int {
            let word = try words(key)[i]
            guard let value = Int(word) else { throw SetupFailure(description: "`\(key)`: \(word) is not an integer") }
            return value
        }

        /// The rest of an error line after its status: the message.
        func message(_ key: String) throws -> String {
            try words(key).dropFirst().joined(separator: " ")
        }
    }

    // MARK: Building and running the client

    /// The build folder that holds this test bundle and libregc.so.
    static func libraryFolder() throws(SetupFailure) -> URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("libregc.so").path) { return folder }
            folder.deleteLastPathComponent()
        }
        throw SetupFailure(description: """
            no libregc.so beside \(CommandLine.arguments[0]): `swift build --build-tests` builds it \
            (or `swift build --product regc`)
            """)
    }

    static func run(_ executable: String, _ arguments: [String]) -> ProcessOutcome {
        ProcessOutcome.run(executable, arguments)
    }

    /// Compiles client.c with `cc` (warnings are errors) and runs it.
    static func runClient() -> Swift.Result<ClientOutput, SetupFailure> {
        do {
            let library = try libraryFolder()
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("reg-capi-\(UUID().uuidString)")
            try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: scratch) }
            let binary = scratch.appendingPathComponent("client").path
            let arguments = [
                "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                "-I", root.appendingPathComponent("Sources/REGC/include").path,
                root.appendingPathComponent("Tests/CClient/client.c").path,
                "-L\(library.path)", "-lregc", "-Wl,-rpath,\(library.path)", "-o", binary,
            ]
            // cc, or the Swift toolchain's clang where no cc is installed (env says 127).
            var compiled = run("cc", arguments)
            if compiled.status == 127 { compiled = run("clang", arguments) }
            guard compiled.status == 0 else {
                throw SetupFailure(description: "cc failed (status \(compiled.status)): \(compiled.output)\(compiled.error)")
            }
            let ran = run(binary, [])
            guard ran.status == 0 else {
                throw SetupFailure(description: "the client failed (status \(ran.status)):\n\(ran.output)\(ran.error)")
            }
            var lines: [String: [String]] = [:]
            for line in ran.output.split(separator: "\n") {
                let words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                guard words.count >= 2 else { continue }
                lines["\(words[0]) \(words[1])"] = Array(words.dropFirst(2))
            }
            return .success(ClientOutput(lines: lines, text: ran.output))
        } catch let error as SetupFailure {
            return .failure(error)
        } catch {
            return .failure(SetupFailure(description: "\(error)"))
        }
    }

    static func output() throws -> ClientOutput {
        try client.get()
    }

    // MARK: The same problem in Swift

    /// The client's batch, read back from what it printed (hexadecimal floats: exact).
    static func arrays(_ out: ClientOutput) throws -> StepArrays {
        StepArrays(
            detection: .init(logits: try out.floats("det_logits -"), targets: try out.floats("det_targets -"),
                             points: try out.floats("det_points -"), boxes: try out.floats("det_boxes -"),
                             samples: 6, classes: 3, images: 2),
            segmentation: .init(logits: try out.floats("seg_logits -"),
                                labels: try out.words("seg_labels -").map { try #require(UInt8($0)) },
                                sigma: try out.floats("seg_sigma -"), batch: 2, classes: 3, height: 5, width: 4))
    }

    /// client.c's step_settings().
    static var settings: StepSettings {
        var settings = StepSettings(lambda: 0.7)
        settings.detection.alpha = [1, 2, 0.5]
        settings.detection.sigma = 0.05
        settings.segmentation.activation = .softmax
        settings.segmentation.refinement = Refinement(beta: -0.25, delta: 2)
        settings.segmentation.normalizer = .positives
        return settings
    }

    static func expectGradient(_ got: [Float], _ expected: [Float], exact: Bool, _ what: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == expected.count, "\(what): \(got.count) values, expected \(expected.count)",
                sourceLocation: sourceLocation)
        guard got.count == expected.count else { return }
        if exact {
            let first = got.indices.first { got[$0].bitPattern != expected[$0].bitPattern }
            #expect(first == nil, "\(what): not bitwise equal from [\(first ?? 0)]: \(first.map { got[$0] } ?? 0) vs \(first.map { expected[$0] } ?? 0)",
                    sourceLocation: sourceLocation)
            return
        }
        let scale = max(1, expected.map { abs(Double($0)) }.max() ?? 0)
        let worst = zip(got, expected).map { abs(Double($0) - Double($1)) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "\(what): max error \(worst) > 1e-5 · \(scale)", sourceLocation: sourceLocation)
    }

    static func expectValue(_ got: Double, _ expected: Double, exact: Bool, _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        if exact {
            #expect(got == expected, "\(what): \(got) vs \(expected)", sourceLocation: sourceLocation)
        } else {
            #expect(abs(got - expected) <= 1e-5 * abs(expected), "\(what): \(got) vs \(expected)",
                    sourceLocation: sourceLocation)
        }
    }

    // MARK: Tests

    @Test("reg_version: the header's API version, and REG's version as `reg --version` prints it")
    func version() throws {
        let out = try Self.output()
        #expect(try out.int("version -", 0) == 1, "the library's API version")
        #expect(try out.int("version -", 1) == 1, "the header's REG_API_VERSION")
        #expect(try out.words("version_minor -") == ["1", "1"], "reg_api_minor_version and REG_API_MINOR_VERSION")
        let tool = try CommandLineTool.run(["--version"])
        #expect(tool.status == 0)
        #expect(try out.words("version -")[2] == tool.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines),
                "reg_version's string and reg --version differ")
    }

    @Test("The step from C, on the reference (exactly the Swift reference) and on the device (within §7)",
          arguments: ["reference", "device"])
    func step(engine: String) throws {
        let out = try Self.output()
        let arrays = try Self.arrays(out)
        let expected = try Engine(device: .reference, environment: [:]).step(arrays, Self.settings)
        let exact = engine == "reference"
        #expect(try out.int("backend \(engine)", 0) == 0, "reg_engine_backend's status")
        #expect(try out.int("backend \(engine)", 1) == (exact ? 0 : 1), "REG_BACKEND_REFERENCE or _OPENCL")
        #expect(try out.int("step \(engine)", 1) == (exact ? 0 : 1), "the step's backend")
        Self.expectValue(try out.double("step \(engine)", 0), expected.result.total, exact: exact, "\(engine) total")
        for (key, task) in [("step_det", expected.result.detection), ("step_seg", expected.result.segmentation)] {
            let task = try #require(task)
            let line = "\(key) \(engine)"
            #expect(try out.int(line, 0) == 1, "\(line): present")
            Self.expectValue(try out.double(line, 1), task.loss, exact: exact, "\(line) loss")
            Self.expectValue(try out.double(line, 2), task.sum, exact: exact, "\(line) sum")
            #expect(try out.int(line, 3) == task.count && out.int(line, 4) == task.positives, "\(line) counts")
            #expect(try out.double(line, 5) == task.divisor, "\(line) divisor")
            #expect(try out.int(line, 6) == (task.sigmaGradient == nil ? 0 : 1), "\(line) has σ gradient")
            if let sigma = task.sigmaGradient {
                let got = try out.double(line, 7)
                #expect(exact ? got == sigma : abs(got - sigma) <= 1e-5 * max(1, abs(sigma)), "\(line) ∂σ")
            }
        }
        #expect(expected.result.detection?.sigmaGradient != nil, "the scalar σ gives a σ gradient")
        Self.expectGradient(try out.floats("det_grad \(engine)"), expected.detectionGradient, exact: exact,
                            "\(engine) detection gradient")
        Self.expectGradient(try out.floats("seg_grad \(engine)"), expected.segmentationGradient, exact: exact,
                            "\(engine) segmentation gradient")
        Self.expectGradient(try out.floats("seg_sigma_grad \(engine)"), try #require(expected.segmentationSigmaGradient),
                            exact: exact, "\(engine) segmentation σ gradient")
    }

    @Test("The detection focal loss from C (α = 1, γ = 2, mean over samples)", arguments: ["reference", "device"])
    func focalLoss(engine: String) throws {
        let out = try Self.output()
        let arrays = try #require(try Self.arrays(out).detection)
        let expected = try Engine(device: .reference, environment: [:])
            .focalLoss(detection: arrays.logits, targets: arrays.targets, samples: 6, classes: 3, FocalLoss(gamma: 2))
        let exact = engine == "reference"
        let line = "focal \(engine)"
        Self.expectValue(try out.double(line, 0), expected.exactLoss, exact: exact, "\(engine) loss")
        Self.expectValue(try out.double(line, 1), expected.sum, exact: exact, "\(engine) sum")
        #expect(try out.int(line, 2) == expected.count && out.int(line, 3) == expected.positives)
        #expect(try out.double(line, 4) == expected.divisor)
        #expect(try out.int(line, 5) == (exact ? 0 : 1), "the result's backend")
        Self.expectGradient(try out.floats("focal_grad \(engine)"), expected.gradient, exact: exact, "\(engine) gradient")
    }

    /// The client's float16 batch, widened (exact): its logits and targets rounded to half, the
    /// rest as in `arrays`.
    static func halfArrays(_ out: ClientOutput) throws -> StepArrays {
        var arrays = try arrays(out)
        arrays.detection!.logits = try out.floats("half_det_logits -")
        arrays.detection!.targets = try out.floats("half_det_targets -")
        arrays.segmentation!.logits = try out.floats("half_seg_logits -")
        return arrays
    }

    @Test("reg_step_typed from C: float16 logits and targets, float16 gradients (the reference's rounded to half)",
          arguments: ["reference", "device"])
    func halfStep(engine: String) throws {
        let out = try Self.output()
        let arrays = try Self.halfArrays(out)
        #expect(arrays.detection!.logits.allSatisfy { Float(Float16($0)) == $0 }, "the client's halves are halves")
        #expect(arrays.detection!.logits != (try out.floats("det_logits -")), "rounding to half changed some logits")
        let expected = try Engine(device: .reference, environment: [:]).step(arrays, Self.settings)
        let exact = engine == "reference"
        #expect(try out.int("half_step \(engine)", 1) == (exact ? 0 : 1), "the step's backend")
        Self.expectValue(try out.double("half_step \(engine)", 0), expected.result.total, exact: exact, "\(engine) total")
        for (key, task) in [("half_step_det", expected.result.detection), ("half_step_seg", expected.result.segmentation)] {
            let task = try #require(task)
            let line = "\(key) \(engine)"
            Self.expectValue(try out.double(line, 2), task.sum, exact: exact, "\(line) sum")
            #expect(try out.int(line, 3) == task.count && out.int(line, 4) == task.positives, "\(line) counts")
        }
        func half(_ values: [Float]) -> [Float] { values.map { Float(Float16($0)) } }
        for (key, reference) in [("half_det_grad", expected.detectionGradient), ("half_seg_grad", expected.segmentationGradient),
                                 ("half_seg_sigma_grad", try #require(expected.segmentationSigmaGradient))] {
            let got = try out.floats("\(key) \(engine)")
            if exact {
                #expect(got == half(reference), "\(key): the reference's float32 gradient rounded to half")
            } else {
                FocalLossHalfTests.expectHalfOfReference(got, reference.map(Double.init), "\(key) device")
            }
        }
        // The float16 focal loss: α = 1, γ = 2, mean over samples.
        let d = try #require(arrays.detection)
        let focal = try Engine(device: .reference, environment: [:])
            .focalLoss(detection: d.logits, targets: d.targets, samples: 6, classes: 3, FocalLoss(gamma: 2))
        Self.expectValue(try out.double("half_focal \(engine)", 0), focal.exactLoss, exact: exact, "\(engine) focal loss")
        #expect(try out.int("half_focal \(engine)", 5) == (exact ? 0 : 1))
        let got = try out.floats("half_focal_grad \(engine)")
        if exact {
            #expect(got == half(focal.gradient))
        } else {
            FocalLossHalfTests.expectHalfOfReference(got, focal.gradient.map(Double.init), "focal gradient device")
        }
    }

    @Test("Float16 errors from C: a bad dtype, a NaN half and mismatched gradient types name the argument")
    func halfErrors() throws {
        let out = try Self.output()
        #expect(try out.int("error half_dtype", 0) == 1)
        #expect(try out.message("error half_dtype") == "invalid argument det_logits: has dtype 7; expected REG_FLOAT32 (0) or REG_FLOAT16 (1)")
        #expect(try out.int("error half_nan", 0) == 1)
        #expect(try out.message("error half_nan") == "invalid argument det_logits[2, 1]: must be finite, got nan")
        #expect(try out.int("error half_sigma_grad", 0) == 1)
        #expect(try out.message("error half_sigma_grad") == "invalid argument seg_sigma_grad: is float32 but seg_logits_grad is float16; a task's gradients share one element type")
        #expect(try out.int("error half_focal_dtype", 0) == 1)
        #expect(try out.message("error half_focal_dtype") == "invalid argument gradient: has dtype -1; expected REG_FLOAT32 (0) or REG_FLOAT16 (1)")
    }

    @Test("Errors from C: REG_INVALID_ARGUMENT with REG's message naming the element, and the other statuses")
    func errors() throws {
        let out = try Self.output()
        // The message REG itself throws for the same NaN.
        var arrays = try Self.arrays(out)
        arrays.segmentation = nil
        arrays.detection!.logits[2 * 3 + 1] = .nan
        let reference = try Engine(device: .reference, environment: [:])
        let thrown = #expect(throws: InvalidArgument.self) { try reference.step(arrays, Self.settings) }
        #expect(try out.int("error nan_step", 0) == 1, "REG_INVALID_ARGUMENT")
        #expect(try out.message("error nan_step") == thrown?.description)
        #expect(try out.message("error nan_step") == "invalid argument det_logits[2, 1]: must be finite, got nan")
        #expect(try out.int("error nan_focal", 0) == 1)
        #expect(try out.message("error nan_focal") == "invalid argument logits[2, 1]: must be finite, got nan")
        #expect(try out.int("error short_gradient", 0) == 1)
        #expect(try out.message("error short_gradient").hasPrefix("invalid argument det_logits_grad"))
        #expect(try out.int("error null_buffer", 0) == 1)
        #expect(try out.message("error null_buffer") == "invalid argument distances: is NULL with a count of 4")
        // A message cut to a 16-byte buffer: 15 bytes and the NUL.
        #expect(try out.words("error truncated") == ["1", "15"])
        // An index that names no device: REG_DEVICE_ERROR, the handle set to NULL, the devices listed.
        #expect(try out.int("error no_device", 0) == 3)
        #expect(try out.int("error no_device", 1) == 1, "*engine is NULL after a failure")
        #expect(try out.message("error no_device").dropFirst(2).hasPrefix("device index 999 does not exist"))
        #expect(try out.int("error null_engine", 0) == 1)
        #expect(try out.message("error null_engine") == "invalid argument engine: is NULL")
        // Success: REG_OK, the reference backend, g(δ) = ½, and the stale message cleared.
        #expect(try out.words("refine -") == ["0", "0", "0x1p-1", "[]"])
    }
}
