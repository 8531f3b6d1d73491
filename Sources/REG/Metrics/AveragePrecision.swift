extension Metrics {
    /// COCO's 101-point interpolated average precision of one class at one IoU threshold.
    ///
    /// - Parameters:
    ///   - matches: whether each prediction of the class is a true positive, in ranking order
    ///     (descending score; see ``evaluate(predictions:groundTruth:settings:)``).
    ///   - groundTruths: the class's number of ground truths, > 0.
    /// - Returns: the mean, over the recall thresholds r = 0, 0.01, …, 1, of the interpolated
    ///   precision at r: the precision at the first rank whose recall is ≥ r, after the precisions
    ///   are made monotone from the right (each the largest at its rank or later); 0 where the
    ///   recall never reaches r.
    public static func averagePrecision(matches: [Bool], groundTruths: Int) -> Double {
        precondition(groundTruths > 0, "average precision needs ground truth")
        var precision: [Double] = []
        var recall: [Double] = []
        precision.reserveCapacity(matches.count)
        recall.reserveCapacity(matches.count)
        var truePositives = 0
        for (rank, match) in matches.enumerated() {
            if match { truePositives += 1 }
            precision.append(Double(truePositives) / Double(rank + 1))
            recall.append(Double(truePositives) / Double(groundTruths))
        }
        for i in precision.indices.dropFirst().reversed() where precision[i] > precision[i - 1] {
            precision[i - 1] = precision[i]
        }
        var sum = 0.0
        var rank = 0
        for threshold in recallThresholds {
            while rank < recall.count && recall[rank] < threshold { rank += 1 }
            guard rank < recall.count else { break }
            sum += precision[rank]
        }
        return sum / Double(recallThresholds.count)
    }
}
