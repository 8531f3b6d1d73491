extension Metrics {
    /// A ground-truth object: a region of class `classID` in image `image`. Every ground truth is
    /// a plain annotation (COCO's `iscrowd = 0`), whatever its area.
    public struct GroundTruth<Region: MetricRegion>: Sendable {
        /// The image's index (≥ 0).
        public var image: Int
        /// The class (≥ 1).
        public var classID: Int
        public var region: Region

        public init(image: Int, classID: Int, region: Region) {
            self.image = image
            self.classID = classID
            self.region = region
        }
    }
}

extension Metrics.GroundTruth: Equatable where Region: Equatable {}
