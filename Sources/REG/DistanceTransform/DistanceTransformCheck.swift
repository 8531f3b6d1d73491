/// `reg check` for the per-class EDT: random blob and noise label maps (ignore pixels, absent
/// classes, awkward sizes, anisotropic spacing), device against `DistanceTransformReference`.
/// Squared distances at unit spacing must be exactly equal (a mismatch fails the check); distances
/// are judged within 2 ulp (relative ≤ 2.4e-7).
enum DistanceTransformCheck {
    static let tolerance = ElementTolerance(relative: 2.4e-7, quantity: "d (2 ulp); d² exact at unit spacing")

    static func run(device: Engine, cases: Int, seed: UInt64) throws -> CheckOutcome {
        var random = CaseGenerator(seed: seed)
        var statistics = ErrorStatistics(tolerance: tolerance)
        for number in 0..<cases {
            let batch = Int.random(in: 1...3, using: &random)
            let height = random.awkwardSize(upTo: 300)
            let width = random.chance(0.2) ? 1 : random.awkwardSize(upTo: 300)
            let classes = Int.random(in: 1...6, using: &random)
            let density = random.chance(0.3) ? 0.001 : 0.05
            let labels = (0..<(batch * height * width)).map { _ -> UInt8 in
                if random.chance(0.05) { return 255 }
                return random.chance(density) ? UInt8.random(in: 1...UInt8(classes), using: &random) : 0
            }
            let spacing = random.chance(0.3)
                ? PixelSpacing(y: Float.random(in: 0.25...3, using: &random), x: Float.random(in: 0.25...3, using: &random))
                : .unit
            let label = "case \(number) (\(batch)×\(height)×\(width), C \(classes), spacing \(spacing))"
            let d = try device.distanceTransform(labels: labels, batch: batch, height: height, width: width,
                                                 classes: classes, spacing: spacing)
            let expected = try DistanceTransformReference.squaredDistances(labels: labels, batch: batch, height: height,
                                                                           width: width, classes: classes, spacing: spacing)
            for i in expected.indices {
                statistics.add(device: d[i], reference: expected[i].squareRoot(), "\(label): element \(i)")
            }
            if spacing == .unit {
                let squared = try device.distanceTransform(labels: labels, batch: batch, height: height, width: width,
                                                           classes: classes, squared: true)
                if let i = expected.indices.first(where: { Double(squared[$0]) != expected[$0] }) {
                    statistics.reject("\(label): squared element \(i): device \(squared[i]), reference \(expected[i])")
                }
            }
        }
        return CheckOutcome(cases: cases, statistics)
    }
}
