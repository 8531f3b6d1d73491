import Foundation
@testable import REG
@testable import REGDiagnostics

/// A detection + segmentation batch fixed by its seed: anchor points over `images` images of
/// 64×64 with a few boxes each, and label maps of blobs with ignore pixels.
enum StepFixtures {
    /// The paper's detection annotation counts (appendix A.7): α_bus stop = 73.
    static let paperCounts = [200, 100, 700, 1500, 50, 800, 300]

    static func batch(samples: Int = 300, detectionClasses: Int = 7, images: Int = 3, segmentationBatch: Int = 3,
                      segmentationClasses: Int = 5, side: Int = 24, sigmaMaps: Bool = false, seed: UInt64 = 1) -> StepArrays {
        var random = SplitMix64(seed: seed)
        let c = detectionClasses
        let logits = random.floats(samples * c, in: -6...6)
        var targets = [Float](repeating: 0, count: samples * c)
        for n in 0..<samples where random.chance(0.4) { targets[n * c + Int.random(in: 0..<c, using: &random)] = 1 }
        var points: [Float] = []
        for _ in 0..<samples {
            points += [Float(Int.random(in: 0..<images, using: &random)), .random(in: 0...64, using: &random),
                       .random(in: 0...64, using: &random)]
        }
        var boxes: [Float] = []
        for image in 0..<images {
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let x1 = Float.random(in: 0...50, using: &random), y1 = Float.random(in: 0...50, using: &random)
                boxes += [Float(image), Float(Int.random(in: 1...c, using: &random)), x1, y1,
                          x1 + .random(in: 0...14, using: &random), y1 + .random(in: 0...14, using: &random)]
            }
        }
        let k = segmentationClasses
        let labels = DistanceTransformDescriptor.blobLabels(batch: segmentationBatch, height: side, width: side, classes: k,
                                                            seed: seed)
        let segLogits = random.floats(segmentationBatch * k * side * side, in: -6...6)
        return StepArrays(
            detection: .init(logits: logits, targets: targets, points: points, boxes: boxes,
                             sigma: sigmaMaps ? random.floats(samples * c, in: 0...0.2) : nil,
                             samples: samples, classes: c, images: images),
            segmentation: .init(logits: segLogits, labels: labels,
                                sigma: sigmaMaps ? random.floats(segLogits.count, in: 0...0.2) : nil,
                                batch: segmentationBatch, classes: k, height: side, width: side))
    }

    /// The step composed by hand from the public float64 references: point-to-box distances and
    /// the per-class EDT, then the refined focal loss of each task, λ on segmentation.
    static func composed(_ arrays: StepArrays, _ settings: StepSettings)
        throws -> (total: Double, det: FocalLossResult<Double>?, seg: FocalLossResult<Double>?) {
        var det: FocalLossResult<Double>? = nil
        var seg: FocalLossResult<Double>? = nil
        if let d = arrays.detection {
            let s = settings.detection
            var spatial = FocalLoss.SpatialWeight.none
            if let r = s.refinement {
                let points = (0..<d.samples).map { SamplePoint(image: Int(d.points[3 * $0]), x: d.points[3 * $0 + 1], y: d.points[3 * $0 + 2]) }
                let boxes = stride(from: 0, to: d.boxes.count, by: 6).map {
                    GroundTruthBox(image: Int(d.boxes[$0]), classID: Int(d.boxes[$0 + 1]), x1: d.boxes[$0 + 2],
                                   y1: d.boxes[$0 + 3], x2: d.boxes[$0 + 4], y2: d.boxes[$0 + 5])
                }
                let distances = try BoxDistanceReference.distances(points: points, boxes: boxes, classes: d.classes)
                spatial = .distances(distances.map(Float.init), r)
            }
            let uncertainty: FocalLoss.Uncertainty = d.sigma.map { .perElement($0) } ?? (s.sigma > 0 ? .scalar(s.sigma) : .none)
            det = try FocalLossReference.focalLoss(
                detection: d.logits, targets: d.targets, samples: d.samples, classes: d.classes,
                FocalLoss(alpha: s.alpha, positiveFraction: s.positiveFraction, gamma: s.gamma, spatial: spatial,
                          uncertainty: uncertainty, normalizer: s.normalizer))
        }
        if let g = arrays.segmentation {
            let s = settings.segmentation
            var spatial = FocalLoss.SpatialWeight.none
            if let r = s.refinement {
                let maps = try DistanceTransformReference.squaredDistances(labels: g.labels, batch: g.batch, height: g.height,
                                                                           width: g.width, classes: g.classes)
                spatial = .distances(maps.map { Float($0.squareRoot()) }, r)
            }
            let uncertainty: FocalLoss.Uncertainty = g.sigma.map { .perElement($0) } ?? (s.sigma > 0 ? .scalar(s.sigma) : .none)
            seg = try FocalLossReference.focalLoss(
                segmentation: g.logits, labels: g.labels, batch: g.batch, classes: g.classes, height: g.height, width: g.width,
                FocalLoss(activation: s.activation, alpha: s.alpha, positiveFraction: s.positiveFraction, gamma: s.gamma,
                          spatial: spatial, uncertainty: uncertainty, gradientScale: settings.lambda, normalizer: s.normalizer))
        }
        return ((det?.exactLoss ?? 0) + Double(settings.lambda) * (seg?.exactLoss ?? 0), det, seg)
    }
}
