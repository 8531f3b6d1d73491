/// `reg check` for point-to-box distances: random points (inside, on edges, outside, in images
/// with no boxes) against random boxes of several classes (some degenerate to a segment or a
/// point), device against the float64 `BoxDistanceReference`, within 2 ulp (relative ≤ 2.4e-7).
enum BoxDistanceCheck {
    static let tolerance = ElementTolerance(relative: 2.4e-7, quantity: "d (2 ulp)")

    static func run(device: Engine, cases: Int, seed: UInt64) throws -> CheckOutcome {
        var random = CaseGenerator(seed: seed)
        var statistics = ErrorStatistics(tolerance: tolerance)
        for number in 0..<cases {
            let images = Int.random(in: 1...4, using: &random)
            let classes = Int.random(in: 1...7, using: &random)
            let boxes = (0..<Int.random(in: 0...40, using: &random)).map { _ -> GroundTruthBox in
                let x1 = Float.random(in: -50...500, using: &random), y1 = Float.random(in: -50...500, using: &random)
                let w: Float = random.chance(0.1) ? 0 : .random(in: 0...120, using: &random)
                let h: Float = random.chance(0.1) ? 0 : .random(in: 0...120, using: &random)
                return GroundTruthBox(image: Int.random(in: 0..<images, using: &random),
                                      classID: Int.random(in: 1...classes, using: &random),
                                      x1: x1, y1: y1, x2: x1 + w, y2: y1 + h)
            }
            let points = (0..<random.awkwardSize(upTo: 3000)).map { _ -> SamplePoint in
                let image = Int.random(in: 0...images, using: &random) // image `images` has no boxes
                if let box = boxes.randomElement(using: &random), random.chance(0.2) {
                    return SamplePoint(image: box.image, x: random.chance(0.5) ? box.x1 : box.x2, y: box.y1) // on a corner
                }
                return SamplePoint(image: image, x: .random(in: -100...600, using: &random), y: .random(in: -100...600, using: &random))
            }
            let label = "case \(number) (\(points.count) points, \(boxes.count) boxes, C \(classes))"
            let d = try device.boxDistances(points: points, boxes: boxes, classes: classes)
            let expected = try BoxDistanceReference.distances(points: points, boxes: boxes, classes: classes)
            for i in expected.indices {
                statistics.add(device: d[i], reference: expected[i], "\(label): element \(i)")
            }
        }
        return CheckOutcome(cases: cases, statistics)
    }
}
