extension Metrics {
    /// A scored prediction: a region of class `classID` in image `image`.
    public struct Prediction<Region: MetricRegion>: Sendable {
        /// The image's index (≥ 0). Ties in score are broken by image, lower index first.
        public var image: Int
        /// The class (≥ 1).
        public var classID: Int
        /// The detector's confidence (finite); higher ranks first.
        public var score: Double
        public var region: Region

        public init(image: Int, classID: Int, score: Double, region: Region) {
            self.image = image
            self.classID = classID
            self.score = score
            self.region = region
        }
    }
}

extension Metrics.Prediction: Equatable where Region: Equatable {}
