import REGRuntime

/// Point-to-box throughput: FCOS-like sample points (strides 8…128) over B images with 20 boxes
/// each, C = 80 classes. Elements are N·C distances; bytes count each point's (x, y, group) read
/// once (12 bytes), the boxes and offsets read once, and the N·C floats written once.
enum BoxDistanceBenchmark {
    static let classes = 80
    static let boxesPerImage = 20

    static func run(engine: Engine, quick: Bool) throws -> [BenchmarkRecord] {
        let settings = quick ? [(2, 256)] : [(8, 512), (8, 1024)]
        var records: [BenchmarkRecord] = []
        for (batch, side) in settings {
            let (points, boxes) = sample(batch: batch, side: side, seed: UInt64(side))
            let problem = try BoxDistanceProblem(points: points, boxes: boxes, classes: classes)
            let repeats = quick ? 3 : 7
            let wall = try Stopwatch.median(repeats: repeats) {
                try Stopwatch.seconds { _ = try engine.boxDistances(points: points, boxes: boxes, classes: classes) }
            }
            var kernel = wall
            if case .openCL(let context) = engine.backend {
                let routine = try BoxDistanceRoutine(context: context, configuration: engine.configuration)
                let inputs = try routine.upload(problem)
                let output = try Buffer<Float>(context: context, count: problem.outputCount)
                kernel = try Stopwatch.median(repeats: repeats) { try routine.kernelSeconds(inputs, output: output) }
            }
            let bytes = 12 * points.count + 16 * boxes.count + 4 * (batch * classes + 1) + 4 * problem.outputCount
            records.append(BenchmarkRecord(operation: "box-distance", backend: "\(engine.backend)",
                                           size: "\(points.count) pts, \(boxes.count) boxes, C=\(classes)",
                                           elements: problem.outputCount, bytes: bytes, medianSeconds: kernel,
                                           medianWallSeconds: wall, repeats: repeats))
        }
        return records
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
                boxes.append(GroundTruthBox(image: b, classID: 1 + Int(random.next() % UInt64(classes)),
                                            x1: x1, y1: y1, x2: x1 + w, y2: y1 + h))
            }
        }
        return (points, boxes)
    }
}
