extension Metrics {
    /// COCO's greedy matching of the predictions and ground truths of one image and class.
    ///
    /// - Parameters:
    ///   - ious: `ious[d][g]`, the IoU of prediction `d` with ground truth `g`; the predictions in
    ///     the order they are matched (descending score), the ground truths in input order.
    ///   - threshold: the IoU a match needs, at least.
    /// - Returns: for each prediction, the index of the ground truth it matched, or nil (a false
    ///   positive). Each prediction in turn takes the not yet matched ground truth with the highest
    ///   IoU ≥ `threshold`; among equal IoUs the last in input order, as pycocotools' loop does
    ///   (it replaces its best on `≥`).
    public static func greedyMatch(ious: [[Double]], threshold: Double) -> [Int?] {
        guard let groundTruths = ious.first?.count else { return [] }
        var taken = [Bool](repeating: false, count: groundTruths)
        return ious.map { row in
            var best: Int?
            var bestIoU = threshold
            for g in 0..<groundTruths where !taken[g] && row[g] >= bestIoU {
                best = g
                bestIoU = row[g]
            }
            if let best { taken[best] = true }
            return best
        }
    }
}
