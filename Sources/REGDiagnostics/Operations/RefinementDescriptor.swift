import REG

/// The refinement `g = σ(β(d − δ))`.
///
/// Check: random distances (±∞, zeros, d = δ, huge values) and random β of both signs and many
/// magnitudes. Tolerance |Δg| ≤ 1e-6, and relative ≤ 1e-5 where g ≥ 1e-30: the float32 device
/// rounds t = β(d − δ) twice, a relative error of about |t| · 1.2e-7 in g's far tail, which stays
/// under 1e-5 down to g ≈ e^-69 ≈ 1e-30; below that only the absolute bound applies. A quarter of
/// the cases plant a NaN distance: both sides must refuse it at the same index.
///
/// Benchmark (`refinement/<variant>/2^k`): 2^20, 2^22, 2^24 distances (quick: 2^16, 2^18; smoke:
/// 2^12), β = 0.5, δ = 8; 4 bytes read (d) + 4 written (g) each. The error is over g.
enum RefinementDescriptor: OperationDescriptor {
    typealias Routine = RefinementRoutine
    static let name = "refinement"
    static let bytesPerElement = 8

    static let judges = [
        Judge<Self>(row: "refinement",
                    tolerance: ElementTolerance(absolute: 1e-6, relative: 1e-5, relativeFloor: 1e-30, quantity: "g")) {
            label, problem, g, expected, statistics in
            for i in expected.indices {
                statistics.add(device: g[i], reference: expected[i], "\(label): d[\(i)] = \(problem.distances[i])")
            }
        },
    ]

    static func randomCase(_ number: Int, _ random: inout SplitMix64) throws -> CheckCase<RefinementProblem> {
        let count = random.awkwardSize(upTo: 20_000)
        let refinement = Refinement(beta: Float(beta(&random)),
                                    delta: random.chance(0.2) ? 0 : Float.random(in: -50...250, using: &random))
        var distances = (0..<count).map { _ in distance(&random, delta: refinement.delta) }
        let planted = number % 4 == 3
        if planted { distances[Int.random(in: 0..<count, using: &random)] = .nan }
        return CheckCase(problem: try RefinementProblem(distances: distances, refinement),
                         label: "case \(number) (\(count) distances, β \(refinement.beta), δ \(refinement.delta))",
                         expectsRefusal: planted)
    }

    static func benchmarkCases(scale: BenchmarkScale, onDevice: Bool) -> [BenchmarkCase<RefinementProblem>] {
        let exponents = switch scale { case .full: [20, 22, 24]; case .quick: [16, 18]; case .smoke: [12] }
        return exponents.map { exponent in
            let count = 1 << exponent
            return BenchmarkCase(operation: name, size: "2^\(exponent)", detail: "\(count) distances",
                                 warmup: scale == .smoke ? 1 : 2, repeats: scale == .full ? 7 : (scale == .quick ? 3 : 2)) {
                let distances = (0..<count).map { Float($0 % 4096) / 64 }
                return BenchmarkWorkload(problem: try RefinementProblem(distances: distances, Refinement(beta: 0.5, delta: 8)),
                                         elements: count, bytes: count * bytesPerElement)
            }
        }
    }

    /// The weights g.
    static func benchmarkError(_ problem: RefinementProblem, device: [Float], reference: [Double]) -> Double {
        MaxAbsoluteError.of(device: device, reference: reference)
    }

    static func run(_ problem: RefinementProblem, on engine: Engine) throws -> [Float] {
        try engine.refine(distances: problem.distances, problem.refinement)
    }

    static func reference(_ problem: RefinementProblem) throws -> [Double] {
        try RefinementReference.refine(distances: problem.distances, problem.refinement)
    }

    /// β: 0, a magnitude from 1e-3 to 1e4 of either sign, or the float32 extreme.
    private static func beta(_ random: inout SplitMix64) -> Double {
        switch Int.random(in: 0..<10, using: &random) {
        case 0: 0
        case 1: random.chance(0.5) ? 3e38 : -3e38
        default: random.signedLogUniform(1e-3, 1e4)
        }
    }

    private static func distance(_ random: inout SplitMix64, delta: Float) -> Float {
        switch Int.random(in: 0..<40, using: &random) {
        case 0, 1: .infinity
        case 2: -.infinity
        case 3: 0
        case 4: delta
        case 5: random.chance(0.5) ? 1e30 : -1e30
        default: Float.random(in: 0...300, using: &random)
        }
    }
}
