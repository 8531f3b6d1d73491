import Foundation
import Testing
@testable import REG

/// The step on IEEE float16 logits, targets and σ maps, and with float16 gradients (the caller's
/// memory): the device reads the halves as halves and computes in float32, so it must meet
/// docs/math.md §7 against the float64 reference fed the same half values; float16 gradients are
/// the float32 ones rounded to nearest even, so within one half ulp of the reference rounded to half.
@Suite("Step: float16 inputs and gradients")
struct StepHalfTests {
    typealias Fixtures = StepFixtures

    /// A step batch in memory of its own, its logits, targets and σ maps stored in the element types
    /// asked for (the float32 fixture's values rounded to half where float16).
    final class TypedBatch {
        /// What the step sees, widened to float32: the reference's input.
        private(set) var rounded = StepArrays()
        private(set) var batch = StepBatch()
        private var memory: [UnsafeMutableRawBufferPointer] = []

        init(_ arrays: StepArrays, logits: FloatPrecision = .float16, targets: FloatPrecision = .float16,
             sigma: FloatPrecision = .float16) {
            var rounded = arrays
            var batch = StepBatch()
            if let d = arrays.detection {
                let (z, zr) = view(d.logits, logits), (y, yr) = view(d.targets, targets)
                let s = d.sigma.map { view($0, sigma) }
                rounded.detection!.logits = zr
                rounded.detection!.targets = yr
                rounded.detection!.sigma = s?.1
                batch.detection = StepBatch.Detection(logits: z, targets: y, points: UnsafeBufferPointer(allocate(d.points)),
                                                      boxes: UnsafeBufferPointer(allocate(d.boxes)), sigma: s?.0,
                                                      samples: d.samples, classes: d.classes, images: d.images)
            }
            if let g = arrays.segmentation {
                let (z, zr) = view(g.logits, logits)
                let s = g.sigma.map { view($0, sigma) }
                rounded.segmentation!.logits = zr
                rounded.segmentation!.sigma = s?.1
                batch.segmentation = StepBatch.Segmentation(logits: z, labels: UnsafeBufferPointer(allocate(g.labels)),
                                                            sigma: s?.0, batch: g.batch, classes: g.classes,
                                                            height: g.height, width: g.width)
            }
            self.rounded = rounded
            self.batch = batch
        }

        deinit { for buffer in memory { buffer.deallocate() } }

        /// `values` in `precision`, and the float32 values that holds.
        private func view(_ values: [Float], _ precision: FloatPrecision) -> (FloatView, [Float]) {
            switch precision {
            case .float32: return (.float32(UnsafeBufferPointer(allocate(values))), values)
            case .float16:
                let halves = values.map { Float16($0) }
                return (.float16(UnsafeBufferPointer(allocate(halves))), halves.map(Float.init))
            }
        }

        func allocate<T>(_ values: [T]) -> UnsafeMutableBufferPointer<T> {
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(values.count, 1))
            _ = buffer.initialize(from: values)
            memory.append(UnsafeMutableRawBufferPointer(buffer))
            return UnsafeMutableBufferPointer(rebasing: buffer[0..<values.count])
        }

        /// Gradient buffers for this batch, in `precision` (σ gradients in `sigma`, default the same),
        /// filled with NaN so that an element left unwritten shows.
        func gradients(_ precision: FloatPrecision, sigma: FloatPrecision? = nil) -> StepGradients {
            func output(_ count: Int, _ precision: FloatPrecision) -> MutableFloatView {
                switch precision {
                case .float32: .float32(allocate([Float](repeating: .nan, count: count)))
                case .float16: .float16(allocate([Float16](repeating: .nan, count: count)))
                }
            }
            var gradients = StepGradients()
            if let d = batch.detection {
                gradients.detectionLogitsView = output(d.logits.count, precision)
                gradients.detectionSigmaView = d.sigma.map { output($0.count, sigma ?? precision) }
            }
            if let s = batch.segmentation {
                gradients.segmentationLogitsView = output(s.logits.count, precision)
                gradients.segmentationSigmaView = s.sigma.map { output($0.count, sigma ?? precision) }
            }
            return gradients
        }

        /// The step into new gradient buffers of `precision`, as a `StepOutput` (gradients widened).
        func step(_ engine: Engine, _ settings: StepSettings, gradient precision: FloatPrecision = .float32) throws -> StepOutput {
            let gradients = self.gradients(precision)
            let result = try engine.step(batch, settings, into: gradients)
            return Self.output(result, gradients, rounded)
        }

        static func output(_ result: StepResult, _ gradients: StepGradients, _ arrays: StepArrays) -> StepOutput {
            func values(_ view: MutableFloatView?) -> [Float]? { view.map { v in (0..<v.count).map { v[$0] } } }
            var output = StepOutput(arrays)
            output.result = result
            output.detectionGradient = values(gradients.detectionLogitsView) ?? []
            output.detectionSigmaGradient = values(gradients.detectionSigmaView)
            output.segmentationGradient = values(gradients.segmentationLogitsView) ?? []
            output.segmentationSigmaGradient = values(gradients.segmentationSigmaView)
            return output
        }
    }

    static var engines: [(String, () throws -> Engine)] {
        KernelSetup.both.map { setup in (setup.testDescription, { try setup.engine() }) } + [("reference", { try Engines.reference() })]
    }

    static func settings(_ normalizer: FocalLoss.Normalizer, sigmaMaps: Bool) -> StepSettings {
        var settings = StepSettings(lambda: 0.7)
        settings.detection = TaskSettings(alpha: StepTests.paperAlpha, sigma: sigmaMaps ? 0 : 0.05, normalizer: normalizer)
        settings.segmentation = TaskSettings(activation: .softmax, normalizer: normalizer)
        return settings
    }

    @Test("Float16 logits, targets and σ maps: the reference on the same half values, float32 gradients",
          arguments: [false, true], [FocalLoss.Normalizer.samples, .positives])
    func halfInputs(sigmaMaps: Bool, normalizer: FocalLoss.Normalizer) throws {
        let typed = TypedBatch(Fixtures.batch(sigmaMaps: sigmaMaps, seed: 31))
        let settings = Self.settings(normalizer, sigmaMaps: sigmaMaps)
        for (name, make) in Self.engines {
            let engine = try make()
            let output = try typed.step(engine, settings)
            try StepTests.expectMatches(output, typed.rounded, settings, "\(name), σ maps \(sigmaMaps), \(normalizer)")
            #expect(output.result.backend == engine.backend)
        }
    }

    @Test("Mixed element types: float16 logits with float32 targets, float32 inputs with float16 gradients, one task alone")
    func mixed() throws {
        let arrays = Fixtures.batch(sigmaMaps: true, seed: 32)
        let settings = Self.settings(.positives, sigmaMaps: true)
        for (name, make) in Self.engines {
            let engine = try make()
            let halfLogits = TypedBatch(arrays, targets: .float32, sigma: .float32)
            try StepTests.expectMatches(try halfLogits.step(engine, settings), halfLogits.rounded, settings,
                                        "\(name): float16 logits only")
            let halfTargets = TypedBatch(arrays, logits: .float32)
            try StepTests.expectMatches(try halfTargets.step(engine, settings), halfTargets.rounded, settings,
                                        "\(name): float16 targets and σ only")
            let float32 = TypedBatch(arrays, logits: .float32, targets: .float32, sigma: .float32)
            let output = try float32.step(engine, settings, gradient: .float16)
            let expected = try Fixtures.composed(float32.rounded, settings)
            FocalLossHalfTests.expectHalfOfReference(output.detectionGradient, expected.det!.gradient, "\(name): det, float32 inputs")
            FocalLossHalfTests.expectHalfOfReference(output.segmentationGradient, expected.seg!.gradient, "\(name): seg, float32 inputs")
            for task in [StepArrays(detection: arrays.detection), StepArrays(segmentation: arrays.segmentation)] {
                let alone = TypedBatch(task)
                try StepTests.expectMatches(try alone.step(engine, settings), alone.rounded, settings,
                                            "\(name): \(task.detection == nil ? "segmentation" : "detection") alone")
            }
        }
    }

    @Test("Float16 gradients (and σ gradients): the reference's rounded to half, to one half-precision ulp")
    func halfGradients() throws {
        let typed = TypedBatch(Fixtures.batch(sigmaMaps: true, seed: 33))
        for normalizer in [FocalLoss.Normalizer.samples, .positives] {
            let settings = Self.settings(normalizer, sigmaMaps: true)
            let expected = try Fixtures.composed(typed.rounded, settings)
            let reference32 = try typed.step(try Engines.reference(), settings)
            for (name, make) in Self.engines {
                let output = try typed.step(try make(), settings, gradient: .float16)
                let what = "\(name), \(normalizer)"
                #expect(abs(output.result.total - expected.total) <= 1e-5 * abs(expected.total), "\(what): total")
                #expect(output.result.detection?.positives == expected.det?.positives
                        && output.result.segmentation?.count == expected.seg?.count, "\(what): counts")
                FocalLossHalfTests.expectHalfOfReference(output.detectionGradient, expected.det!.gradient, "\(what): det ∂L/∂z")
                FocalLossHalfTests.expectHalfOfReference(output.detectionSigmaGradient!, expected.det!.sigmaGradient!,
                                                         "\(what): det ∂L/∂σ")
                FocalLossHalfTests.expectHalfOfReference(output.segmentationGradient, expected.seg!.gradient, "\(what): seg ∂L/∂z")
                FocalLossHalfTests.expectHalfOfReference(output.segmentationSigmaGradient!, expected.seg!.sigmaGradient!,
                                                         "\(what): seg ∂L/∂σ")
                if name == "reference" {
                    // The reference rounds its own float32 gradients to half: exactly those.
                    func half(_ values: [Float]) -> [Float] { values.map { Float(Float16($0)) } }
                    #expect(output.detectionGradient == half(reference32.detectionGradient))
                    #expect(output.segmentationGradient == half(reference32.segmentationGradient))
                    #expect(output.segmentationSigmaGradient! == half(reference32.segmentationSigmaGradient!))
                    #expect(output.result == reference32.result)
                }
            }
        }
    }

    @Test("A float16 batch split under a small memory budget equals the unsplit one; halves need fewer chunks")
    func chunked() throws {
        let arrays = Fixtures.batch(samples: 1000, segmentationBatch: 5, sigmaMaps: true, seed: 34)
        let half = TypedBatch(arrays), float32 = TypedBatch(arrays, logits: .float32, targets: .float32, sigma: .float32)
        let engine = try Engines.device()
        let context = try #require(StepTests.context(engine))
        for normalizer in [FocalLoss.Normalizer.samples, .positives] {
            var settings = StepSettings(detection: TaskSettings(normalizer: normalizer),
                                        segmentation: TaskSettings(normalizer: normalizer))
            let whole = try half.step(engine, settings, gradient: .float16)
            settings.memoryBudget = 150_000
            func chunks(_ typed: TypedBatch, _ precision: FloatPrecision) throws -> Int {
                try StepRoutine(context: context, configuration: engine.configuration)
                    .prepare(StepCall(typed.batch, settings, into: typed.gradients(precision))).chunks.count
            }
            let halfChunks = try chunks(half, .float16), floatChunks = try chunks(float32, .float32)
            #expect(halfChunks >= 4 && halfChunks < floatChunks, "\(halfChunks) chunks of float16, \(floatChunks) of float32")
            let split = try half.step(engine, settings, gradient: .float16)
            let expected = try Fixtures.composed(half.rounded, settings)
            #expect(abs(split.result.total - whole.result.total) <= 1e-5 * whole.result.total, "\(normalizer): total")
            #expect(split.result.detection?.positives == expected.det?.positives
                    && split.result.segmentation?.positives == expected.seg?.positives, "\(normalizer): counts")
            FocalLossHalfTests.expectHalfOfReference(split.detectionGradient, expected.det!.gradient, "chunked \(normalizer): det")
            FocalLossHalfTests.expectHalfOfReference(split.segmentationGradient, expected.seg!.gradient, "chunked \(normalizer): seg")
            FocalLossHalfTests.expectHalfOfReference(split.segmentationSigmaGradient!, expected.seg!.sigmaGradient!,
                                                     "chunked \(normalizer): seg ∂σ")
            // Float32 gradients of the same split: within §7.
            try StepTests.expectMatches(try half.step(engine, settings), half.rounded, settings, "chunked \(normalizer), float32 gradients")
            let again = try half.step(engine, settings, gradient: .float16)
            #expect(again.result == split.result && again.detectionGradient == split.detectionGradient
                    && again.segmentationGradient == split.segmentationGradient, "bitwise repeatable")
        }
    }

    @Test("The workspace follows the element types: float16 and float32 steps alternate with the same results")
    func workspace() throws {
        let arrays = Fixtures.batch(sigmaMaps: true, seed: 35)
        let half = TypedBatch(arrays), float32 = TypedBatch(arrays, logits: .float32, targets: .float32, sigma: .float32)
        let engine = try Engines.device()
        let settings = Self.settings(.samples, sigmaMaps: true)
        let firstHalf = try half.step(engine, settings, gradient: .float16)
        let routine = try #require(engine.cachedRoutine(StepRoutine.self))
        let allocated = routine.workspace.allocations
        #expect(try half.step(engine, settings, gradient: .float16).detectionGradient == firstHalf.detectionGradient)
        #expect(routine.workspace.allocations == allocated, "same-size float16 steps allocate nothing")
        let firstFloat = try float32.step(engine, settings)
        try StepTests.expectMatches(firstFloat, float32.rounded, settings, "float32 after float16")
        let again = try half.step(engine, settings, gradient: .float16)
        #expect(again.result == firstHalf.result && again.detectionGradient == firstHalf.detectionGradient
                && again.segmentationGradient == firstHalf.segmentationGradient
                && again.segmentationSigmaGradient == firstHalf.segmentationSigmaGradient)
    }

    @Test("Split across two device instances: float16 inputs and gradients equal one engine's")
    func engineGroup() throws {
        let typed = TypedBatch(Fixtures.batch(samples: 501, segmentationBatch: 5, sigmaMaps: true, seed: 36))
        let settings = Self.settings(.positives, sigmaMaps: true)
        let group = try EngineGroup(devices: [.index(0), .index(0)], fallback: .throwError)
        let gradients = typed.gradients(.float16)
        let result = try group.step(typed.batch, settings, into: gradients)
        let split = TypedBatch.output(result, gradients, typed.rounded)
        let expected = try Fixtures.composed(typed.rounded, settings)
        #expect(result.backend != .reference)
        #expect(abs(result.total - expected.total) <= 1e-5 * expected.total)
        #expect(result.detection?.positives == expected.det?.positives && result.segmentation?.count == expected.seg?.count)
        FocalLossHalfTests.expectHalfOfReference(split.detectionGradient, expected.det!.gradient, "group: det")
        FocalLossHalfTests.expectHalfOfReference(split.detectionSigmaGradient!, expected.det!.sigmaGradient!, "group: det ∂σ")
        FocalLossHalfTests.expectHalfOfReference(split.segmentationGradient, expected.seg!.gradient, "group: seg")
    }

    @Test("Errors name the argument: bad float16 elements (scanned, or flagged by the kernel), mismatched gradient types, short buffers")
    func errors() throws {
        let arrays = Fixtures.batch(sigmaMaps: true, seed: 37)
        for (name, make) in Self.engines {
            let engine = try make()
            for validates in [true, false] {
                var settings = Self.settings(.samples, sigmaMaps: true)
                settings.validatesElements = validates
                func expectError(_ typed: TypedBatch, _ message: String, gradients: StepGradients? = nil,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
                    let error = #expect(throws: InvalidArgument.self, sourceLocation: sourceLocation) {
                        try engine.step(typed.batch, settings, into: gradients ?? typed.gradients(.float16))
                    }
                    #expect(error?.description == message, "\(name), validates \(validates)", sourceLocation: sourceLocation)
                }
                var bad = arrays
                bad.detection!.logits[10 * 7 + 3] = .infinity
                expectError(TypedBatch(bad), "invalid argument det_logits[10, 3]: must be finite, got inf")
                bad = arrays
                bad.detection!.logits[2] = 1e5 // past float16's largest, 65504: inf as a half
                expectError(TypedBatch(bad), "invalid argument det_logits[0, 2]: must be finite, got inf")
                bad = arrays
                bad.detection!.targets[7 * 7] = 1.5
                expectError(TypedBatch(bad), "invalid argument det_targets[7, 0]: must be in [0, 1], got 1.5")
                bad = arrays
                bad.segmentation!.logits[5] = .nan
                expectError(TypedBatch(bad), "invalid argument seg_logits[0, 0, 0, 5]: must be finite, got nan")
                bad = arrays
                bad.segmentation!.sigma![7] = -0.5
                expectError(TypedBatch(bad),
                            "invalid argument seg_sigma[0, 0, 0, 7]: must be finite and in [0, \(FocalLoss.maximumSigma)], got -0.5")
            }
            let settings = Self.settings(.samples, sigmaMaps: true)
            let typed = TypedBatch(arrays)
            var gradients = typed.gradients(.float16, sigma: .float32)
            var error = #expect(throws: InvalidArgument.self) { try engine.step(typed.batch, settings, into: gradients) }
            #expect(error?.description == "invalid argument det_sigma_grad: is float32 but det_logits_grad is float16; a task's gradients share one element type", "\(name)")
            gradients = typed.gradients(.float16)
            let short = typed.allocate([Float16](repeating: 0, count: 10))
            gradients.segmentationLogitsView = .float16(short)
            error = #expect(throws: InvalidArgument.self) { try engine.step(typed.batch, settings, into: gradients) }
            #expect(error?.description == "invalid argument seg_logits_grad: holds 10 values; the gradient has \(3 * 5 * 24 * 24)",
                    "\(name)")
        }
    }

    @Test("Float16 steps are bitwise repeatable on the device", arguments: KernelSetup.both)
    func repeatable(setup: KernelSetup) throws {
        let typed = TypedBatch(Fixtures.batch(samples: 700, sigmaMaps: true, seed: 38))
        let engine = try setup.engine()
        let settings = Self.settings(.positives, sigmaMaps: true)
        let first = try typed.step(engine, settings, gradient: .float16)
        let second = try typed.step(engine, settings, gradient: .float16)
        #expect(second.result == first.result && second.detectionGradient == first.detectionGradient
                && second.segmentationGradient == first.segmentationGradient
                && second.detectionSigmaGradient == first.detectionSigmaGradient)
    }

    @Test("The float32 API is unchanged: StepGradients' float32 properties read and set the views")
    func float32Properties() throws {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 4)
        let halves = UnsafeMutableBufferPointer<Float16>.allocate(capacity: 4)
        defer { buffer.deallocate(); halves.deallocate() }
        var gradients = StepGradients(detectionLogits: buffer)
        #expect(gradients.detectionLogits?.baseAddress == buffer.baseAddress)
        #expect(gradients.detectionLogitsView?.precision == .float32)
        gradients = StepGradients(segmentationLogits: .float16(halves))
        #expect(gradients.segmentationLogits == nil && gradients.segmentationLogitsView?.precision == .float16)
        gradients.segmentationLogits = buffer
        #expect(gradients.segmentationLogitsView?.precision == .float32)
        #expect(StepGradients().detectionLogitsView == nil)
    }
}
