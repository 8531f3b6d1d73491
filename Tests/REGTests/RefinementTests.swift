import Testing
@testable import REG
@testable import REGDiagnostics

@Suite("Refinement g = σ(β(d − δ))")
struct RefinementTests {
    /// Random finite distances plus ±∞ and exact zeros, in a size no work-group size divides.
    static func distances(count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        var d = random.floats(count, in: 0...200)
        for i in stride(from: 0, to: count, by: 13) { d[i] = .infinity }
        for i in stride(from: 5, to: count, by: 29) { d[i] = -.infinity }
        for i in stride(from: 7, to: count, by: 31) { d[i] = 0 }
        return d
    }

    static let settings: [Refinement] = [
        Refinement(beta: 0.5, delta: 8), Refinement(beta: -0.5, delta: 8), Refinement(beta: 0, delta: 3),
        Refinement(beta: 1e4, delta: 50), Refinement(beta: -1e4, delta: 50), Refinement(beta: 3e38, delta: 0),
        Refinement(beta: 1e-3, delta: -20),
    ]

    @Test("OpenCL matches the float64 reference", arguments: [1, 7, 255, 1009, 65_537], [nil, 64] as [Int?])
    func deviceMatchesReference(count: Int, workGroupSize: Int?) throws {
        let engine = try Engines.device(workGroupSize: workGroupSize)
        let d = Self.distances(count: count, seed: UInt64(count))
        for setting in Self.settings {
            let device = try engine.refine(distances: d, setting)
            let reference = try RefinementReference.refine(distances: d, setting)
            #expect(device.allSatisfy { !$0.isNaN })
            let (error, index) = Tolerance.maxAbsoluteError(device, reference)
            #expect(error <= 1e-6, "β \(setting.beta) δ \(setting.delta): d = \(index >= 0 ? d[index] : 0) device \(index >= 0 ? device[index] : 0) reference \(index >= 0 ? reference[index] : 0)")
            // Relative accuracy where g is small but a normal float (the far tail for β < 0).
            for i in d.indices where reference[i] > 1e-30 {
                #expect(abs(Double(device[i]) - reference[i]) <= 1e-5 * reference[i] + 1e-7,
                        "relative error at d = \(d[i]), β \(setting.beta)")
            }
        }
    }

    @Test("Known values: β = 0, infinite distances, saturation")
    func knownValues() throws {
        for engine in [try Engines.device(), try Engines.reference()] {
            let d: [Float] = [.infinity, .infinity, 0, 8, 1e30, -1e30]
            #expect(try engine.refine(distances: d, Refinement(beta: 0, delta: 1)) == [0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
            let positive = try engine.refine(distances: d, Refinement(beta: 2, delta: 8))
            #expect(positive[0] == 1 && positive[3] == 0.5 && positive[4] == 1 && positive[5] == 0)
            #expect(abs(positive[2] - 1.1253517e-7) < 1e-12) // σ(−16)
            let negative = try engine.refine(distances: d, Refinement(beta: -2, delta: 8))
            #expect(negative[0] == 0 && negative[3] == 0.5 && negative[4] == 0 && negative[5] == 1)
        }
    }

    @Test("Empty input gives empty output")
    func empty() throws {
        #expect(try Engines.device().refine(distances: [], Refinement(beta: 1, delta: 0)).isEmpty)
        #expect(try Engines.reference().refine(distances: [], Refinement(beta: 1, delta: 0)).isEmpty)
    }

    @Test("A NaN distance is an error naming its index, on both backends")
    func nanDistance() throws {
        var d = Self.distances(count: 5000, seed: 3)
        d[4321] = .nan
        d[4999] = .nan
        for engine in [try Engines.device(), try Engines.reference()] {
            #expect(throws: InvalidArgument("distances", index: [4321], "is NaN")) {
                try engine.refine(distances: d, Refinement(beta: 1, delta: 0))
            }
        }
    }

    @Test("Non-finite β or δ is an error naming the argument")
    func badParameters() throws {
        let engine = try Engines.device()
        #expect(throws: InvalidArgument("beta", "must be finite, got nan")) {
            try engine.refine(distances: [1], Refinement(beta: .nan, delta: 0))
        }
        #expect(throws: InvalidArgument("delta", "must be finite, got inf")) {
            try engine.refine(distances: [1], Refinement(beta: 1, delta: .infinity))
        }
    }

    @Test("Bitwise repeatable")
    func repeatable() throws {
        let engine = try Engines.device()
        let d = Self.distances(count: 100_003, seed: 9)
        let first = try engine.refine(distances: d, Refinement(beta: 0.3, delta: 5))
        for _ in 0..<3 {
            #expect(try engine.refine(distances: d, Refinement(beta: 0.3, delta: 5)) == first)
        }
    }
}
