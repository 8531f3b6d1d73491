import Testing
@testable import REG
@testable import REGDiagnostics

@Suite("Point-to-box distances")
struct BoxDistanceTests {
    static func engines(workGroupSize: Int? = nil) throws -> [Engine] {
        [try Engines.device(workGroupSize: workGroupSize), try Engines.reference()]
    }

    /// The oracle: for every point and class, the minimum over all boxes of that class in the
    /// point's image, each distance from the definition in float64.
    static func bruteForce(points: [SamplePoint], boxes: [GroundTruthBox], classes: Int) -> [Double] {
        var result = [Double](repeating: .infinity, count: points.count * classes)
        for (n, p) in points.enumerated() {
            for box in boxes where box.image == p.image {
                let x = Double(p.x), y = Double(p.y)
                let dx = x < Double(box.x1) ? Double(box.x1) - x : (x > Double(box.x2) ? x - Double(box.x2) : 0)
                let dy = y < Double(box.y1) ? Double(box.y1) - y : (y > Double(box.y2) ? y - Double(box.y2) : 0)
                let i = n * classes + box.classID - 1
                result[i] = min(result[i], (dx * dx + dy * dy).squareRoot())
            }
        }
        return result
    }

    /// Random boxes of several classes over several images (some images without boxes), and
    /// random points over those images, from a fixed seed.
    static func randomCase(points count: Int, boxes boxCount: Int, images: Int, classes: Int,
                           seed: UInt64) -> ([SamplePoint], [GroundTruthBox]) {
        var random = SplitMix64(seed: seed)
        var boxes: [GroundTruthBox] = []
        for _ in 0..<boxCount {
            // Images 0…images−1, but never image 1: it keeps points and no boxes.
            var image = Int.random(in: 0..<images, using: &random)
            if image == 1 { image = 0 }
            let x1 = Float.random(in: -50...300, using: &random), y1 = Float.random(in: -50...300, using: &random)
            let w = Float.random(in: 0...80, using: &random), h = Float.random(in: 0...80, using: &random)
            boxes.append(GroundTruthBox(image: image, classID: Int.random(in: 1...classes, using: &random),
                                        x1: x1, y1: y1, x2: Bool.random(using: &random) ? x1 + w : x1,
                                        y2: y1 + h))
        }
        let points = (0..<count).map { _ in
            SamplePoint(image: Int.random(in: 0..<images, using: &random),
                        x: Float.random(in: -100...400, using: &random), y: Float.random(in: -100...400, using: &random))
        }
        return (points, boxes)
    }

    @Test("Inside, on edges and corners, and in each of the eight outside regions")
    func regions() throws {
        let box = GroundTruthBox(image: 0, classID: 1, x1: 2, y1: 3, x2: 6, y2: 8)
        // (x, y, d²)
        let cases: [(Float, Float, Double)] = [
            (4, 5, 0), (2.5, 7.9, 0),                                    // inside
            (2, 5, 0), (6, 5, 0), (4, 3, 0), (4, 8, 0),                  // on the edges
            (2, 3, 0), (6, 3, 0), (2, 8, 0), (6, 8, 0),                  // on the corners
            (0, 5, 4), (9, 5, 9), (4, 0, 9), (4, 10, 4),                 // left, right, above, below
            (0, 0, 13), (9, 0, 18), (0, 11, 13), (10, 12, 32),           // the four diagonal regions
            (1.75, 2.5, 0.0625 + 0.25),
        ]
        let points = cases.map { SamplePoint(image: 0, x: $0.0, y: $0.1) }
        for engine in try Self.engines() {
            let out = try engine.boxDistances(points: points, boxes: [box], classes: 2)
            for (n, c) in cases.enumerated() {
                let expected = Float(c.2.squareRoot())
                #expect(ulpDistance(out[2 * n], expected) <= 1,
                        "\(engine.backend) point \(points[n]): \(out[2 * n]) vs \(expected)")
                #expect(out[2 * n + 1] == .infinity, "class 2 has no box")
            }
        }
    }

    @Test("Images with no boxes, classes with no box: +∞")
    func noBoxes() throws {
        let boxes = [GroundTruthBox(image: 3, classID: 2, x1: 0, y1: 0, x2: 10, y2: 10)]
        let points = [SamplePoint(image: 0, x: 5, y: 5), SamplePoint(image: 3, x: 5, y: 5),
                      SamplePoint(image: 7, x: 20, y: 5), SamplePoint(image: 3, x: 20, y: 5)]
        for engine in try Self.engines() {
            let out = try engine.boxDistances(points: points, boxes: boxes, classes: 3)
            #expect(out.count == 12)
            let inf = Float.infinity
            #expect(out == [inf, inf, inf, inf, 0, inf, inf, inf, inf, inf, 10, inf])
            let none = try engine.boxDistances(points: points, boxes: [], classes: 2)
            #expect(none.count == 8 && none.allSatisfy { $0 == .infinity })
            #expect(try engine.boxDistances(points: [], boxes: boxes, classes: 3).isEmpty)
        }
    }

    @Test("Boxes of several classes over several images equal brute force (within 2 ulp)",
          arguments: [nil, 64] as [Int?], [(1, 1, 1, 1), (257, 13, 3, 4), (1000, 200, 5, 7), (4099, 64, 9, 80)])
    func severalClasses(workGroupSize: Int?, shape: (Int, Int, Int, Int)) throws {
        let (count, boxCount, images, classes) = shape
        let (points, boxes) = Self.randomCase(points: count, boxes: boxCount, images: images, classes: classes,
                                              seed: UInt64(count * 31 + boxCount))
        let oracle = Self.bruteForce(points: points, boxes: boxes, classes: classes).map(Float.init)
        #expect(try BoxDistanceReference.distances(points: points, boxes: boxes, classes: classes).map(Float.init) == oracle)
        for engine in try Self.engines(workGroupSize: workGroupSize) {
            let out = try engine.boxDistances(points: points, boxes: boxes, classes: classes)
            let (ulps, index) = maxUlpDistance(out, oracle)
            #expect(ulps <= 2, "\(engine.backend): \(ulps) ulp at \(index): \(index >= 0 ? out[index] : 0) vs \(index >= 0 ? oracle[index] : 0)")
        }
    }

    @Test("Sparse, large image indices")
    func largeImageIndices() throws {
        let boxes = [GroundTruthBox(image: 1_000_000, classID: 1, x1: 0, y1: 0, x2: 1, y2: 1),
                     GroundTruthBox(image: 5, classID: 1, x1: 10, y1: 10, x2: 11, y2: 11)]
        let points = [SamplePoint(image: 1_000_000, x: 4, y: 5), SamplePoint(image: 5, x: 4, y: 5),
                      SamplePoint(image: 999_999, x: 4, y: 5)]
        for engine in try Self.engines() {
            #expect(try engine.boxDistances(points: points, boxes: boxes, classes: 1) == [5, Float(61.0.squareRoot()), .infinity])
        }
    }

    @Test("Invalid boxes and points name the element", arguments: [0, 1])
    func invalid(backend: Int) throws {
        let engine = backend == 0 ? try Engines.device() : try Engines.reference()
        let good = GroundTruthBox(image: 0, classID: 1, x1: 0, y1: 0, x2: 4, y2: 4)
        let point = SamplePoint(image: 0, x: 1, y: 1)
        var degenerate = good
        degenerate.x2 = -1
        #expect(throws: InvalidArgument("boxes", index: [1], "is degenerate: [0.0, 0.0, -1.0, 4.0] needs x1 ≤ x2 and y1 ≤ y2")) {
            try engine.boxDistances(points: [point], boxes: [good, degenerate], classes: 2)
        }
        var flat = good
        flat.y2 = -0.5
        #expect(throws: InvalidArgument.self) { try engine.boxDistances(points: [point], boxes: [flat], classes: 2) }
        var wrongClass = good
        wrongClass.classID = 3
        #expect(throws: InvalidArgument("boxes", index: [2], "has class 3; classes are 1…2")) {
            try engine.boxDistances(points: [point], boxes: [good, good, wrongClass], classes: 2)
        }
        wrongClass.classID = 0
        #expect(throws: InvalidArgument.self) { try engine.boxDistances(points: [point], boxes: [wrongClass], classes: 2) }
        var negative = good
        negative.image = -1
        #expect(throws: InvalidArgument("boxes", index: [0], "has image -1; image indices are ≥ 0")) {
            try engine.boxDistances(points: [point], boxes: [negative], classes: 2)
        }
        var nan = good
        nan.x1 = .nan
        #expect(throws: InvalidArgument.self) { try engine.boxDistances(points: [point], boxes: [nan], classes: 2) }
        #expect(throws: InvalidArgument.self) {
            try engine.boxDistances(points: [point, SamplePoint(image: 0, x: .infinity, y: 0)], boxes: [good], classes: 2)
        }
        #expect(throws: InvalidArgument("points", index: [0], "has image -2; image indices are ≥ 0")) {
            try engine.boxDistances(points: [SamplePoint(image: -2, x: 0, y: 0)], boxes: [good], classes: 2)
        }
        #expect(throws: InvalidArgument("classes", "must be at least 1, got 0")) {
            try engine.boxDistances(points: [point], boxes: [], classes: 0)
        }
    }
}
