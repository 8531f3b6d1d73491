extension Metrics {
    /// The metrics of every class that has a ground truth or a prediction, and their means.
    ///
    /// The means are over the classes with ground truth (a class with predictions only is
    /// reported, with its false positives, but has no AP or recall and is left out, as in COCO);
    /// nil when no class has ground truth.
    public struct Result: Sendable, Equatable {
        /// One entry per class, by ascending class id.
        public let classes: [ClassResult]
        public let settings: Settings

        public init(classes: [ClassResult], settings: Settings) {
            self.classes = classes
            self.settings = settings
        }

        /// The class `classID`'s metrics, nil when it has neither ground truth nor predictions.
        public subscript(classID: Int) -> ClassResult? { classes.first { $0.classID == classID } }

        /// The classes that enter the means: those with ground truth.
        public var evaluatedClasses: [ClassResult] { classes.filter { $0.groundTruths > 0 } }

        /// Mean over classes of AP at IoU 0.5.
        public var map50: Double? { mean(evaluatedClasses.compactMap(\.ap50)) }

        /// Mean over classes of AP averaged over IoU 0.50:0.05:0.95 (COCO's AP).
        public var map50to95: Double? { mean(evaluatedClasses.compactMap(\.ap50to95)) }

        /// Mean over classes of the precision at the score threshold.
        public var precision: Double? { mean(evaluatedClasses.map(\.precision)) }

        /// Mean over classes of the recall at the score threshold.
        public var recall: Double? { mean(evaluatedClasses.compactMap(\.recall)) }

        /// 2·P·R / (P + R) of the mean precision and recall, as the paper's tables compute F1
        /// (Table 1, REG A: 2·80.10·63.46 / (80.10 + 63.46) = 70.82); not the mean of the classes' F1.
        public var f1: Double? {
            guard let precision, let recall else { return nil }
            return harmonicMean(precision, recall)
        }

        /// True positives of every class (at the score threshold, IoU ≥ 0.5).
        public var truePositives: Int { classes.reduce(0) { $0 + $1.truePositives } }
        /// False positives of every class, those of classes without ground truth included.
        public var falsePositives: Int { classes.reduce(0) { $0 + $1.falsePositives } }
        /// False negatives of every class.
        public var falseNegatives: Int { classes.reduce(0) { $0 + $1.falseNegatives } }

        private func mean(_ values: [Double]) -> Double? {
            values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
        }
    }
}
