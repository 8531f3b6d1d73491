import REGRuntime

/// Distance-transform throughput on blob-like label maps (B = 8, C = 5 at 512², 1024², 2048²).
///
/// Elements are pixel-maps (B·C·H·W distances). Bytes count the least the operation must move:
/// the labels read once (1 byte per pixel) and the C float maps written once (4 bytes each). The
/// two passes actually move about 5× that (the column pass writes, reads and rewrites the int map,
/// the row pass reads it and writes the result over it): see docs/distance-maps.md.
enum DistanceTransformBenchmark {
    static let classes = 5

    static func run(engine: Engine, quick: Bool) throws -> [BenchmarkRecord] {
        let batch = quick ? 2 : 8
        let sides = quick ? [128, 256] : [512, 1024, 2048]
        var records: [BenchmarkRecord] = []
        for side in sides {
            let labels = blobLabels(batch: batch, height: side, width: side, classes: classes, seed: UInt64(side))
            let problem = try DistanceTransformProblem(labelCount: labels.count, batch: batch, height: side, width: side,
                                                       classes: classes, spacing: .unit, squared: false)
            // The CPU reference is slow at the largest size: fewer repeats there.
            let repeats = quick ? 3 : (engine.device == nil && side >= 2048 ? 3 : 5)
            let warmup = engine.device == nil && side >= 1024 ? 1 : 2
            let wall = try Stopwatch.median(warmup: warmup, repeats: repeats) {
                try Stopwatch.seconds {
                    _ = try engine.distanceTransform(labels: labels, batch: batch, height: side, width: side,
                                                     classes: classes)
                }
            }
            var kernel = wall
            if case .openCL(let context) = engine.backend {
                let routine = try DistanceTransformRoutine(context: context, configuration: engine.configuration)
                let input = try Buffer(context: context, copying: labels)
                let output = try Buffer<Float>(context: context, count: problem.outputCount)
                kernel = try Stopwatch.median(repeats: repeats) {
                    let (columns, rows) = try routine.kernelSeconds(labels: input, output: output, problem)
                    return columns + rows
                }
            }
            let elements = problem.outputCount
            records.append(BenchmarkRecord(operation: "distance-transform", backend: "\(engine.backend)",
                                           size: "\(batch)×\(side)², C=\(classes)", elements: elements,
                                           bytes: problem.labelCount + 4 * elements, medianSeconds: kernel,
                                           medianWallSeconds: wall, repeats: repeats))
        }
        return records
    }

    /// Blob-like label maps from a fixed seed: per image, one disk of each class, then 5·C disks of
    /// random classes, then two small disks of ignore (255), painted in that order over background.
    /// tools/bench_distance_baselines.py draws the same maps (same SplitMix64 stream, same order).
    static func blobLabels(batch: Int, height: Int, width: Int, classes: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        var labels = [UInt8](repeating: 0, count: batch * height * width)
        let side = min(height, width)
        for b in 0..<batch {
            let disks = 6 * classes + 2
            for i in 0..<disks {
                let label: Int
                let radius: Int
                if i < classes {
                    label = i + 1
                } else if i < 6 * classes {
                    label = 1 + Int(random.next() % UInt64(classes))
                } else {
                    label = 255
                }
                let cy = Int(random.next() % UInt64(height))
                let cx = Int(random.next() % UInt64(width))
                if label == 255 {
                    radius = 1 + Int(random.next() % UInt64(max(1, side / 32)))
                } else {
                    radius = 2 + Int(random.next() % UInt64(max(1, side / 8)))
                }
                for y in max(0, cy - radius)...min(height - 1, cy + radius) {
                    for x in max(0, cx - radius)...min(width - 1, cx + radius)
                    where (y - cy) * (y - cy) + (x - cx) * (x - cx) <= radius * radius {
                        labels[(b * height + y) * width + x] = UInt8(label)
                    }
                }
            }
        }
        return labels
    }
}
