extension Metrics {
    /// What the evaluation may vary: the score threshold of precision, recall and F1, and COCO's
    /// cap on predictions. The IoU and recall thresholds are COCO's, fixed
    /// (``Metrics/iouThresholds``, ``Metrics/recallThresholds``).
    public struct Settings: Sendable, Equatable {
        /// Precision, recall and F1 count the predictions with a score ≥ this (default 0.5).
        /// Average precision uses every score.
        public var scoreThreshold: Double
        /// At most this many predictions per image and class, the highest scores (COCO's
        /// `maxDets`, default 100; pycocotools applies it per image and category). The rest are
        /// dropped before matching, for AP and for precision and recall alike.
        public var maxDetections: Int

        public init(scoreThreshold: Double = 0.5, maxDetections: Int = 100) {
            self.scoreThreshold = scoreThreshold
            self.maxDetections = maxDetections
        }
    }
}
