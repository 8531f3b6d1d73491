import REG

/// `reg demo`'s evaluation on held-out scenes: detection as boxes scored by the per-cell
/// classifier (each cell's box, one prediction per class), judged with the library's COCO-style
/// box metrics; segmentation as the per-pixel class (the most probable class when its probability
/// is at least ½, else background), judged by the per-class IoU over non-ignored pixels.
struct DemoEvaluation {
    /// Detection: mAP50, mAP50-95, and precision, recall and F1 at score ½, per class and mean.
    var detection: Metrics.Result
    /// Segmentation: IoU per class (nil where the class is absent from both truth and prediction).
    var segmentationIoU: [Double?]
    var meanIoU: Double { mean(segmentationIoU.compactMap { $0 }) }
    /// The predicted label map of the first scene (for the demo's picture).
    var firstPrediction: [UInt8]

    init(scenes: [RoadScenes.Scene], training: DemoTraining) throws {
        let side = training.scenes.side, plane = side * side
        let arrays = training.batch(scenes).arrays
        // Segmentation.
        let classes = RoadScenes.segmentationClasses.count
        let logits = arrays.segmentation!.logits
        var intersection = [Int](repeating: 0, count: classes), union = [Int](repeating: 0, count: classes)
        var first: [UInt8] = []
        for (b, scene) in scenes.enumerated() {
            for p in 0..<plane {
                var best = 0, top: Float = 0 // logit 0 is probability ½
                for k in 0..<classes where logits[(b * classes + k) * plane + p] >= top {
                    top = logits[(b * classes + k) * plane + p]
                    best = k + 1
                }
                if b == 0 { first.append(UInt8(best)) }
                let truth = Int(scene.labels[p])
                guard truth != Int(LabelMap.ignore) else { continue }
                for k in 1...classes where truth == k || best == k {
                    union[k - 1] += 1
                    if truth == k && best == k { intersection[k - 1] += 1 }
                }
            }
        }
        segmentationIoU = (0..<classes).map { union[$0] > 0 ? Double(intersection[$0]) / Double(union[$0]) : nil }
        firstPrediction = first
        // Detection: every cell's box with each class's probability as its score.
        let d = arrays.detection!
        let detClasses = d.classes
        var predictions: [Metrics.Prediction<BoundingBox>] = []
        for sample in 0..<d.samples {
            let image = Int(d.points[3 * sample]), x = d.points[3 * sample + 1], y = d.points[3 * sample + 2]
            let half = Float(RoadScenes.cell) / 2
            for k in 0..<detClasses {
                let score = 1 / (1 + exp(-Double(d.logits[sample * detClasses + k])))
                guard score >= 0.01 else { continue }
                predictions.append(Metrics.Prediction(image: image, classID: k + 1, score: score,
                                                      region: BoundingBox(x1: Double(x - half), y1: Double(y - half),
                                                                          x2: Double(x + half), y2: Double(y + half))))
            }
        }
        let truth = stride(from: 0, to: d.boxes.count, by: 6).map {
            Metrics.GroundTruth(image: Int(d.boxes[$0]), classID: Int(d.boxes[$0 + 1]),
                                region: BoundingBox(x1: Double(d.boxes[$0 + 2]), y1: Double(d.boxes[$0 + 3]),
                                                    x2: Double(d.boxes[$0 + 4]), y2: Double(d.boxes[$0 + 5])))
        }
        detection = try Metrics.evaluate(predictions: predictions, groundTruth: truth,
                                         settings: Metrics.Settings(scoreThreshold: 0.5))
    }
}

func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }

#if canImport(Glibc)
import Glibc
#endif
