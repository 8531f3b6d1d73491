import REG

/// Point-to-box distances.
///
/// Check: random points (inside, on edges and corners, outside, in images with no boxes) against
/// random boxes of several classes (some degenerate to a segment or a point), within 2 ulp
/// (relative ≤ 2.4e-7) of the float64 reference.
///
/// Benchmark (`box-distance/<variant>/BxHxWxB20xC80`): FCOS-like sample points (strides 8…128) over
/// B images of H×W with 20 boxes each, C = 80 classes: 8×512² and 8×1024² (quick: 2×256²; smoke:
/// 1×128²). Elements are N·C distances; bytes count each point's (x, y, group) read once (12
/// bytes), the boxes and offsets read once, and the N·C floats written once. The error is over the
/// distances.
enum BoxDistanceDescriptor: OperationDescriptor {
    typealias Routine = BoxDistanceRoutine
    static let name = "box-distance"
    static let benchmarkClasses = 80
    static let boxesPerImage = 20

    static let judges = [
        Judge<Self>(row: "box-distance", tolerance: ElementTolerance(relative: 2.4e-7, quantity: "d (2 ulp)")) {
            label, _, d, expected, statistics in
            for i in expected.indices {
                statistics.add(device: d[i], reference: expected[i], "\(label): element \(i)")
            }
        },
    ]

    static func randomCase(_ number: Int, _ random: inout SplitMix64) throws -> CheckCase<BoxDistanceProblem> {
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
        return CheckCase(problem: try BoxDistanceProblem(points: points, boxes: boxes, classes: classes),
                         label: "case \(number) (\(points.count) points, \(boxes.count) boxes, C \(classes))")
    }

    static func benchmarkCases(scale: BenchmarkScale, onDevice: Bool) -> [BenchmarkCase<BoxDistanceProblem>] {
        let sizes = switch scale { case .full: [(8, 512), (8, 1024)]; case .quick: [(2, 256)]; case .smoke: [(1, 128)] }
        let classes = benchmarkClasses
        return sizes.map { batch, side in
            BenchmarkCase(operation: name, size: "\(batch)x\(side)x\(side)xB\(boxesPerImage)xC\(classes)",
                          detail: "\(points(batch: batch, side: side)) points × \(classes) classes, \(batch * boxesPerImage) boxes",
                          warmup: scale == .smoke ? 1 : 2, repeats: scale == .full ? 7 : (scale == .quick ? 3 : 2)) {
                let (points, boxes) = sample(batch: batch, side: side, seed: UInt64(side))
                let problem = try BoxDistanceProblem(points: points, boxes: boxes, classes: classes)
                let bytes = 12 * points.count + 16 * boxes.count + 4 * (batch * classes + 1) + 4 * problem.outputCount
                return BenchmarkWorkload(problem: problem, elements: problem.outputCount, bytes: bytes)
            }
        }
    }

    /// The distances.
    static func benchmarkError(_ problem: BoxDistanceProblem, device: [Float], reference: [Double]) -> Double {
        MaxAbsoluteError.of(device: device, reference: reference)
    }

    /// How many points `sample` places: the cell centres of strides 8 … 128 over `batch` images.
    static func points(batch: Int, side: Int) -> Int {
        batch * [8, 16, 32, 64, 128].reduce(0) { total, stride in
            let perSide = (side - stride / 2 + stride - 1) / stride
            return total + perSide * perSide
        }
    }

    static func run(_ problem: BoxDistanceProblem, on engine: Engine) throws -> [Float] {
        try engine.boxDistances(points: problem.points, boxes: problem.boxes, classes: problem.classes)
    }

    static func reference(_ problem: BoxDistanceProblem) throws -> [Double] {
        try BoxDistanceReference.distances(points: problem.points, boxes: problem.boxes, classes: problem.classes)
    }

    /// Points at the centres of the cells of strides 8, 16, 32, 64, 128 over `side`² images, and
    /// `boxesPerImage` random boxes of random classes per image, from a fixed seed.
    static func sample(batch: Int, side: Int, seed: UInt64) -> ([SamplePoint], [GroundTruthBox]) {
        var random = SplitMix64(seed: seed)
        var points: [SamplePoint] = []
        var boxes: [GroundTruthBox] = []
        for b in 0..<batch {
            for stride in [8, 16, 32, 64, 128] {
                for cy in Swift.stride(from: stride / 2, to: side, by: stride) {
                    for cx in Swift.stride(from: stride / 2, to: side, by: stride) {
                        points.append(SamplePoint(image: b, x: Float(cx), y: Float(cy)))
                    }
                }
            }
            for _ in 0..<boxesPerImage {
                let x1 = Float(random.next() % UInt64(side)), y1 = Float(random.next() % UInt64(side))
                let w = Float(4 + random.next() % UInt64(side / 4)), h = Float(4 + random.next() % UInt64(side / 4))
                boxes.append(GroundTruthBox(image: b, classID: 1 + Int(random.next() % UInt64(benchmarkClasses)),
                                            x1: x1, y1: y1, x2: x1 + w, y2: y1 + h))
            }
        }
        return (points, boxes)
    }
}
