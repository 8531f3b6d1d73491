import REG

/// The exact per-class Euclidean distance transform.
///
/// Check: random blob and noise label maps (ignore pixels, absent classes, awkward sizes,
/// anisotropic spacing). Squared distances at unit spacing must be exactly equal (a mismatch fails
/// the check); distances are judged within 2 ulp (relative ≤ 2.4e-7).
///
/// Benchmark (`edt/<variant>/BxHxWxC5`): blob-like label maps, B = 8, C = 5 at 512², 1024², 2048²
/// (quick: B = 2 at 128², 256²; smoke: B = 1 at 32²). Elements are pixel-maps (B·C·H·W distances);
/// the error is over the distances. Bytes count the least the operation must move:
/// the labels read once (1 byte per pixel) and the C float maps written once (4 bytes each). The
/// two passes actually move about 5× that (see docs/distance-maps.md).
enum DistanceTransformDescriptor: OperationDescriptor {
    typealias Routine = DistanceTransformRoutine
    static let name = "distance-transform"
    static let benchmarkClasses = 5

    static let judges = [
        Judge<Self>(row: "distance-transform",
                    tolerance: ElementTolerance(relative: 2.4e-7, quantity: "d (2 ulp); d² exact at unit spacing")) {
            label, input, d, squared, statistics in
            if input.problem.squared {
                if let i = squared.indices.first(where: { Double(d[$0]) != squared[$0] }) {
                    statistics.reject("\(label): squared element \(i): device \(d[i]), reference \(squared[i])")
                }
                return
            }
            for i in squared.indices {
                statistics.add(device: d[i], reference: squared[i].squareRoot(), "\(label): element \(i)")
            }
        },
    ]

    static func randomCase(_ number: Int, _ random: inout SplitMix64) throws -> CheckCase<DistanceTransformInput> {
        let batch = Int.random(in: 1...3, using: &random)
        let height = random.awkwardSize(upTo: 300)
        let width = random.chance(0.2) ? 1 : random.awkwardSize(upTo: 300)
        let classes = Int.random(in: 1...6, using: &random)
        let density = random.chance(0.3) ? 0.001 : 0.05
        let labels = (0..<(batch * height * width)).map { _ -> UInt8 in
            if random.chance(0.05) { return LabelMap.ignore }
            return random.chance(density) ? UInt8.random(in: 1...UInt8(classes), using: &random) : LabelMap.background
        }
        let spacing = random.chance(0.3)
            ? PixelSpacing(y: Float.random(in: 0.25...3, using: &random), x: Float.random(in: 0.25...3, using: &random))
            : .unit
        // Squared distances are exact integers only at unit spacing: half of those cases check them.
        let squared = spacing == .unit && random.chance(0.5)
        let problem = try DistanceTransformProblem(labelCount: labels.count, batch: batch, height: height, width: width,
                                                   classes: classes, spacing: spacing, squared: squared)
        return CheckCase(problem: DistanceTransformInput(problem: problem, labels: labels),
                         label: "case \(number) (\(batch)×\(height)×\(width), C \(classes), spacing \(spacing)\(squared ? ", squared" : ""))")
    }

    static func benchmarkCases(scale: BenchmarkScale, onDevice: Bool) -> [BenchmarkCase<DistanceTransformInput>] {
        let (batch, sides) = switch scale { case .full: (8, [512, 1024, 2048]); case .quick: (2, [128, 256]); case .smoke: (1, [32]) }
        let classes = benchmarkClasses
        return sides.map { side in
            // The CPU reference is slow at the largest sizes: fewer runs there.
            BenchmarkCase(operation: "edt", size: "\(batch)x\(side)x\(side)xC\(classes)",
                          detail: "\(batch)×\(side)×\(side) labels, C = \(classes)",
                          warmup: scale == .smoke || (!onDevice && side >= 1024) ? 1 : 2,
                          repeats: scale == .full ? (!onDevice && side >= 2048 ? 3 : 5) : (scale == .quick ? 3 : 2)) {
                let labels = blobLabels(batch: batch, height: side, width: side, classes: classes, seed: UInt64(side))
                let problem = try DistanceTransformProblem(labelCount: labels.count, batch: batch, height: side, width: side,
                                                           classes: classes, spacing: .unit, squared: false)
                return BenchmarkWorkload(problem: DistanceTransformInput(problem: problem, labels: labels),
                                         elements: problem.outputCount, bytes: problem.labelCount + 4 * problem.outputCount)
            }
        }
    }

    /// The distances (the reference's squared distances are rooted, as the judge does).
    static func benchmarkError(_ input: DistanceTransformInput, device: [Float], reference: [Double]) -> Double {
        precondition(!input.problem.squared, "the benchmark asks for distances")
        return MaxAbsoluteError.of(device: device, reference: reference.lazy.map { $0.squareRoot() })
    }

    static func run(_ input: DistanceTransformInput, on engine: Engine) throws -> [Float] {
        let p = input.problem
        return try engine.distanceTransform(labels: input.labels, batch: p.batch, height: p.height, width: p.width,
                                            classes: p.classes, spacing: p.spacing, squared: p.squared)
    }

    /// Squared distances in float64, whatever the problem asks for: the judge takes the root.
    static func reference(_ input: DistanceTransformInput) throws -> [Double] {
        let p = input.problem
        return try DistanceTransformReference.squaredDistances(labels: input.labels, batch: p.batch, height: p.height,
                                                               width: p.width, classes: p.classes, spacing: p.spacing)
    }

    /// Blob-like label maps from a fixed seed: per image, one disk of each class, then 5·C disks of
    /// random classes, then two small disks of ignore, painted in that order over background.
    /// tools/bench_distance_baselines.py draws the same maps (same SplitMix64 stream, same order).
    static func blobLabels(batch: Int, height: Int, width: Int, classes: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        var labels = [UInt8](repeating: LabelMap.background, count: batch * height * width)
        let side = min(height, width)
        for b in 0..<batch {
            let disks = 6 * classes + 2
            for i in 0..<disks {
                let label: UInt8
                if i < classes {
                    label = UInt8(i + 1)
                } else if i < 6 * classes {
                    label = UInt8(1 + Int(random.next() % UInt64(classes)))
                } else {
                    label = LabelMap.ignore
                }
                let cy = Int(random.next() % UInt64(height))
                let cx = Int(random.next() % UInt64(width))
                let radius = label == LabelMap.ignore
                    ? 1 + Int(random.next() % UInt64(max(1, side / 32)))
                    : 2 + Int(random.next() % UInt64(max(1, side / 8)))
                for y in max(0, cy - radius)...min(height - 1, cy + radius) {
                    for x in max(0, cx - radius)...min(width - 1, cx + radius)
                    where (y - cy) * (y - cy) + (x - cx) * (x - cx) <= radius * radius {
                        labels[(b * height + y) * width + x] = label
                    }
                }
            }
        }
        return labels
    }
}
