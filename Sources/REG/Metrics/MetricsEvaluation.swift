extension Metrics {
    /// Evaluates predictions against ground truth: AP at every IoU threshold, and precision,
    /// recall and F1 at the score threshold, for each class and as means (``Result``).
    ///
    /// In each image and class, the predictions are ranked by descending score (ties: input
    /// order), the first ``Settings/maxDetections`` kept, and matched greedily to the ground truths
    /// at each IoU threshold (``greedyMatch(ious:threshold:)``). Each class's kept predictions of
    /// every image are then ranked by descending score, ties broken by the lower image index and
    /// then input order — pycocotools' order, which concatenates the images by ascending id before
    /// its stable (mergesort) sort — and give the class's AP at each threshold
    /// (``averagePrecision(matches:groundTruths:)``). Precision and recall count the kept
    /// predictions with a score ≥ ``Settings/scoreThreshold`` and their matches at IoU 0.5.
    ///
    /// - Throws: `InvalidArgument` naming `predictions` or `groundTruth` and the row (image < 0,
    ///   class < 1, a non-finite score, an invalid region, masks of one image of different sizes),
    ///   or the setting.
    public static func evaluate<Region>(predictions: [Prediction<Region>], groundTruth: [GroundTruth<Region>],
                                        settings: Settings = Settings()) throws(InvalidArgument) -> Result {
        try validate(predictions: predictions, groundTruth: groundTruth, settings: settings)

        var groups: [GroupKey: (predictions: [Int], truths: [Int])] = [:]
        for (row, prediction) in predictions.enumerated() {
            groups[GroupKey(image: prediction.image, classID: prediction.classID), default: ([], [])].predictions.append(row)
        }
        for (row, truth) in groundTruth.enumerated() {
            groups[GroupKey(image: truth.image, classID: truth.classID), default: ([], [])].truths.append(row)
        }

        var ranked: [Int: [RankedPrediction]] = [:]
        for (key, group) in groups where !group.predictions.isEmpty {
            let kept = group.predictions.sorted { a, b in
                predictions[a].score > predictions[b].score || (predictions[a].score == predictions[b].score && a < b)
            }.prefix(settings.maxDetections)
            let ious = kept.map { d in
                group.truths.map { g in Region.intersectionOverUnion(predictions[d].region, groundTruth[g].region) }
            }
            let matched = iouThresholds.map { greedyMatch(ious: ious, threshold: $0) }
            for (rank, row) in kept.enumerated() {
                ranked[key.classID, default: []].append(
                    RankedPrediction(score: predictions[row].score, image: key.image, row: row,
                                     matches: matched.map { $0[rank] != nil }))
            }
        }

        var truthCounts: [Int: Int] = [:]
        for truth in groundTruth { truthCounts[truth.classID, default: 0] += 1 }
        var predictionCounts: [Int: Int] = [:]
        for prediction in predictions { predictionCounts[prediction.classID, default: 0] += 1 }

        let classIDs = Set(truthCounts.keys).union(predictionCounts.keys).sorted()
        let results = classIDs.map { classID in
            let list = (ranked[classID] ?? []).sorted(by: RankedPrediction.ranksBefore)
            let truths = truthCounts[classID] ?? 0
            let averagePrecisions = truths == 0 ? nil : iouThresholds.indices.map { t in
                averagePrecision(matches: list.map { $0.matches[t] }, groundTruths: truths)
            }
            let counted = list.filter { $0.score >= settings.scoreThreshold }
            let truePositives = counted.filter { $0.matches[0] }.count
            return ClassResult(classID: classID, groundTruths: truths, predictions: predictionCounts[classID] ?? 0,
                               averagePrecisions: averagePrecisions, truePositives: truePositives,
                               falsePositives: counted.count - truePositives)
        }
        return Result(classes: results, settings: settings)
    }

    /// One image and class.
    private struct GroupKey: Hashable {
        let image: Int
        let classID: Int
    }

    /// A prediction kept after the per-image cap, with whether it matched at each IoU threshold.
    private struct RankedPrediction {
        let score: Double
        let image: Int
        /// Its row in the input.
        let row: Int
        let matches: [Bool]

        /// Descending score, then ascending image, then input order.
        static func ranksBefore(_ a: RankedPrediction, _ b: RankedPrediction) -> Bool {
            if a.score != b.score { return a.score > b.score }
            if a.image != b.image { return a.image < b.image }
            return a.row < b.row
        }
    }
}
