extension Metrics {
    /// The metrics of one class.
    public struct ClassResult: Sendable, Equatable {
        public let classID: Int
        /// The class's ground truths.
        public let groundTruths: Int
        /// The class's predictions, as given (before the per-image cap and the score threshold).
        public let predictions: Int
        /// AP at each of ``Metrics/iouThresholds``; nil when the class has no ground truth (COCO
        /// reports −1 there).
        public let averagePrecisions: [Double]?
        /// Predictions with a score ≥ the threshold that matched a ground truth at IoU ≥ 0.5.
        public let truePositives: Int
        /// Predictions with a score ≥ the threshold that matched none.
        public let falsePositives: Int

        public init(classID: Int, groundTruths: Int, predictions: Int, averagePrecisions: [Double]?,
                    truePositives: Int, falsePositives: Int) {
            self.classID = classID
            self.groundTruths = groundTruths
            self.predictions = predictions
            self.averagePrecisions = averagePrecisions
            self.truePositives = truePositives
            self.falsePositives = falsePositives
        }

        /// AP at IoU 0.5 (mAP50's term); nil without ground truth.
        public var ap50: Double? { averagePrecisions?.first }

        /// AP averaged over the ten IoU thresholds 0.50:0.05:0.95 (mAP50-95's term); nil without
        /// ground truth.
        public var ap50to95: Double? { averagePrecisions.map { $0.reduce(0, +) / Double($0.count) } }

        /// Ground truths no prediction above the threshold matched.
        public var falseNegatives: Int { groundTruths - truePositives }

        /// TP / (TP + FP); 0 when no prediction reaches the threshold.
        public var precision: Double {
            truePositives + falsePositives == 0 ? 0 : Double(truePositives) / Double(truePositives + falsePositives)
        }

        /// TP / (TP + FN); nil without ground truth.
        public var recall: Double? {
            groundTruths == 0 ? nil : Double(truePositives) / Double(groundTruths)
        }

        /// 2·P·R / (P + R), 0 when P + R = 0; nil without ground truth.
        public var f1: Double? { recall.map { Metrics.harmonicMean(precision, $0) } }
    }

    /// 2·p·r / (p + r), 0 when p + r = 0.
    static func harmonicMean(_ p: Double, _ r: Double) -> Double {
        p + r == 0 ? 0 : 2 * p * r / (p + r)
    }
}
