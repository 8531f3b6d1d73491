/// Detection and instance-segmentation metrics of the paper's §3.1: IoU, precision, recall, F1 at
/// a score threshold, and COCO's average precision (mAP50 and mAP50-95), per class and as means.
///
/// The conventions are COCO's, as pycocotools implements them, so that a result here equals
/// pycocotools' `COCOeval` on the same predictions (see docs/metrics.md and `MetricsCOCOTests`):
///
/// - IoU thresholds 0.50:0.05:0.95 (``iouThresholds``), recall thresholds 0:0.01:1
///   (``recallThresholds``), 101-point interpolated precision made monotone from the right.
/// - At most ``Settings/maxDetections`` predictions (100) per image and class, the highest scores.
/// - Greedy matching in descending score, each prediction taking the unmatched ground truth of its
///   image and class with the highest IoU ≥ the threshold (``greedyMatch(ious:threshold:)``).
/// - A class with no ground truth has no AP (COCO's −1, here `nil`) and is left out of the means.
/// - Crowd annotations and area ranges are not supported: every annotation is a plain one, every
///   area counts.
///
/// Entry point: ``evaluate(predictions:groundTruth:settings:)`` with ``BoundingBox`` or
/// ``InstanceMask`` regions.
public enum Metrics {
    /// COCO's IoU thresholds 0.50, 0.55, …, 0.95, as the float64 values pycocotools uses: NumPy's
    /// `linspace(0.5, 0.95, 10)`, that is `0.5 + k·((0.95 − 0.5)/9)` with the last exactly 0.95, so
    /// that an IoU lying on a threshold falls on the same side of it as in pycocotools.
    public static let iouThresholds: [Double] = (0..<10).map { (k: Int) -> Double in
        let step: Double = (0.95 - 0.5) / 9
        return k == 9 ? 0.95 : Double(k) * step + 0.5
    }

    /// COCO's 101 recall thresholds 0, 0.01, …, 1, as NumPy's `linspace(0, 1, 101)` computes them
    /// (`k·0.01`, the last exactly 1).
    public static let recallThresholds: [Double] = (0...100).map { (k: Int) -> Double in
        k == 100 ? 1 : Double(k) * 0.01
    }

    /// The IoU at which precision, recall and F1 count a prediction as a true positive: 0.5, the
    /// first of ``iouThresholds``.
    public static var precisionRecallIoU: Double { iouThresholds[0] }
}
