/// `reg check` for the refinement: random distances (±∞, zeros, d = δ, huge values) and random β of
/// both signs and many magnitudes, device against `RefinementReference`.
///
/// Tolerance: |Δg| ≤ 1e-6, and relative ≤ 1e-5 where g ≥ 1e-30. The float32 device rounds
/// t = β(d − δ) twice, a relative error of about |t| · 1.2e-7 in g's far tail, which stays under
/// 1e-5 down to g ≈ e^-69 ≈ 1e-30; below that only the absolute bound applies. A quarter of the
/// cases plant a NaN distance: both sides must refuse it at the same index.
enum RefinementCheck {
    static let tolerance = ElementTolerance(absolute: 1e-6, relative: 1e-5, relativeFloor: 1e-30, quantity: "g")

    static func run(device: Engine, cases: Int, seed: UInt64) throws -> CheckOutcome {
        var random = CaseGenerator(seed: seed)
        var statistics = ErrorStatistics(tolerance: tolerance)
        for number in 0..<cases {
            let count = random.awkwardSize(upTo: 20_000)
            let refinement = Refinement(beta: Float(beta(&random)), delta: random.chance(0.2) ? 0 : Float.random(in: -50...250, using: &random))
            var distances = (0..<count).map { _ in distance(&random, delta: refinement.delta) }
            let label = "case \(number) (\(count) distances, β \(refinement.beta), δ \(refinement.delta))"

            if number % 4 == 3 {
                let planted = Int.random(in: 0..<count, using: &random)
                distances[planted] = .nan
                let onDevice = try refusal { try device.refine(distances: distances, refinement) }
                let onReference = try refusal { try RefinementReference.refine(distances: distances, refinement) }
                if onDevice != onReference || onDevice == nil {
                    statistics.reject("\(label): NaN at \(planted): device \(onDevice.map(String.init(describing:)) ?? "no error"), reference \(onReference.map(String.init(describing:)) ?? "no error")")
                }
                continue
            }
            let g = try device.refine(distances: distances, refinement)
            let expected = try RefinementReference.refine(distances: distances, refinement)
            for i in 0..<count {
                statistics.add(device: g[i], reference: expected[i], "\(label): d[\(i)] = \(distances[i])")
            }
        }
        return CheckOutcome(cases: cases, statistics)
    }

    /// β: 0, a magnitude from 1e-3 to 1e4 of either sign, or the float32 extreme.
    private static func beta(_ random: inout CaseGenerator) -> Double {
        switch Int.random(in: 0..<10, using: &random) {
        case 0: 0
        case 1: random.chance(0.5) ? 3e38 : -3e38
        default: random.signedLogUniform(1e-3, 1e4)
        }
    }

    private static func distance(_ random: inout CaseGenerator, delta: Float) -> Float {
        switch Int.random(in: 0..<40, using: &random) {
        case 0, 1: .infinity
        case 2: -.infinity
        case 3: 0
        case 4: delta
        case 5: random.chance(0.5) ? 1e30 : -1e30
        default: Float.random(in: 0...300, using: &random)
        }
    }

    /// The `InvalidArgument` that `body` throws, nil when it succeeds; other errors propagate.
    private static func refusal(_ body: () throws -> some Any) throws -> InvalidArgument? {
        do {
            _ = try body()
            return nil
        } catch let error as InvalidArgument {
            return error
        }
    }
}
