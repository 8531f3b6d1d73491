extension Metrics {
    /// Checks the settings and every row: image ≥ 0, class ≥ 1, a finite score, a valid region,
    /// and regions of one image that can be compared. Errors name the argument (`predictions`,
    /// `groundTruth`, `scoreThreshold`, `maxDetections`) and the row.
    static func validate<Region>(predictions: [Prediction<Region>], groundTruth: [GroundTruth<Region>],
                                 settings: Settings) throws(InvalidArgument) {
        guard !settings.scoreThreshold.isNaN else {
            throw InvalidArgument("scoreThreshold", "must be a number, got nan")
        }
        guard settings.maxDetections >= 1 else {
            throw InvalidArgument("maxDetections", "must be at least 1, got \(settings.maxDetections)")
        }
        // The first region seen in each image: the others of the image must compare with it.
        var firstRegion: [Int: Region] = [:]
        func check(_ argument: String, _ row: Int, image: Int, classID: Int, region: Region) throws(InvalidArgument) {
            guard image >= 0 else { throw InvalidArgument(argument, index: [row], "image must be ≥ 0, got \(image)") }
            guard classID >= 1 else { throw InvalidArgument(argument, index: [row], "class must be ≥ 1, got \(classID)") }
            if let reason = region.invalidReason { throw InvalidArgument(argument, index: [row], reason) }
            if let first = firstRegion[image] {
                if let reason = region.mismatch(with: first) { throw InvalidArgument(argument, index: [row], reason) }
            } else {
                firstRegion[image] = region
            }
        }
        for (row, truth) in groundTruth.enumerated() {
            try check("groundTruth", row, image: truth.image, classID: truth.classID, region: truth.region)
        }
        for (row, prediction) in predictions.enumerated() {
            guard prediction.score.isFinite else {
                throw InvalidArgument("predictions", index: [row], "score must be finite, got \(prediction.score)")
            }
            try check("predictions", row, image: prediction.image, classID: prediction.classID, region: prediction.region)
        }
    }
}
