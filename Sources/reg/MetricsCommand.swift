import ArgumentParser
import Foundation
import REG
import REGNumPy

/// `reg metrics boxes|masks`: mAP50, mAP50-95, precision, recall and F1 (COCO's conventions, the
/// paper's §3.1) of predictions against ground truth, through .npy files.
struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Detection and instance-mask metrics: mAP50, mAP50-95, precision, recall, F1 (COCO's conventions).",
        discussion: """
            AP is COCO's: 101-point interpolated precision, IoU thresholds 0.50:0.05:0.95, at most \
            --max-detections predictions per image and class, greedy matching by descending score; a \
            class with no ground truth has no AP and is left out of the means. Precision, recall and \
            F1 count the predictions with a score ≥ --score-threshold, matched at IoU ≥ 0.5. Crowd \
            annotations and area ranges are not supported. See docs/metrics.md.
            """,
        subcommands: [Boxes.self, Masks.self])

    /// The options both subcommands take.
    struct Options: ParsableArguments {
        // `.unconditional`: a threshold may be negative (scores are any finite reals).
        @Option(parsing: .unconditional, help: ArgumentHelp("Precision, recall and F1 count predictions with a score ≥ this.", valueName: "score"))
        var scoreThreshold: Double = 0.5

        @Option(parsing: .unconditional, help: ArgumentHelp("At most this many predictions per image and class, the highest scores (COCO's maxDets).", valueName: "count"))
        var maxDetections: Int = 100

        @Flag(help: "Print JSON: map50, map50_95, precision, recall, f1, per_class.")
        var json = false

        func validate() throws {
            guard scoreThreshold.isFinite else {
                throw ValidationError("--score-threshold: must be finite, got \(scoreThreshold)")
            }
            try requireAtLeast(maxDetections, 1, "--max-detections")
        }

        var settings: Metrics.Settings {
            Metrics.Settings(scoreThreshold: scoreThreshold, maxDetections: maxDetections)
        }
    }

    struct Boxes: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Box metrics (.npy): P rows [image, class, score, x1, y1, x2, y2], G rows [image, class, x1, y1, x2, y2].",
            discussion: """
                Coordinates are continuous: a box's area is (x2 − x1)·(y2 − y1). Image and class \
                columns hold whole numbers, image ≥ 0, class ≥ 1.
                """)

        @Option(help: ArgumentHelp("Predicted boxes (.npy, (K, 7) rows [image, class, score, x1, y1, x2, y2]).", valueName: "file"))
        var predictions: String

        @Option(help: ArgumentHelp("Ground-truth boxes (.npy, (M, 6) rows [image, class, x1, y1, x2, y2]).", valueName: "file"))
        var groundTruth: String

        @OptionGroup var options: Options

        func run() throws {
            let predictionRows = try MetricsCommand.rows(try ArrayFiles.read(predictions), columns: 7, file: predictions)
            let truthRows = try MetricsCommand.rows(try ArrayFiles.read(groundTruth), columns: 6, file: groundTruth)
            let predicted = try predictionRows.enumerated().map { row, v in
                Metrics.Prediction(image: try MetricsCommand.whole(v[0], "image", file: predictions, row: row),
                                   classID: try MetricsCommand.whole(v[1], "class", file: predictions, row: row),
                                   score: v[2], region: BoundingBox(x1: v[3], y1: v[4], x2: v[5], y2: v[6]))
            }
            let truth = try truthRows.enumerated().map { row, v in
                Metrics.GroundTruth(image: try MetricsCommand.whole(v[0], "image", file: groundTruth, row: row),
                                    classID: try MetricsCommand.whole(v[1], "class", file: groundTruth, row: row),
                                    region: BoundingBox(x1: v[2], y1: v[3], x2: v[4], y2: v[5]))
            }
            let sources = ArgumentSources(files: ["predictions": predictions, "groundTruth": groundTruth],
                                          options: ["scoreThreshold": "--score-threshold", "maxDetections": "--max-detections"])
            let result = try sources.run {
                try Metrics.evaluate(predictions: predicted, groundTruth: truth, settings: options.settings)
            }
            try MetricsCommand.report(result, kind: "boxes", json: options.json)
        }
    }

    struct Masks: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Instance-mask metrics (.npy): (K, H, W) masks with [image, class, score] rows, (M, H, W) with [image, class].",
            discussion: """
                Masks are bool or integer arrays of 0 and 1 (convert 0/255 masks with m > 0); the IoU \
                of two masks counts pixels. Every mask has the same H × W.
                """)

        @Option(help: ArgumentHelp("Predicted masks (.npy, (K, H, W), 0/1).", valueName: "file"))
        var predictions: String

        @Option(help: ArgumentHelp("One row [image, class, score] per predicted mask (.npy, (K, 3)).", valueName: "file"))
        var predictionMeta: String

        @Option(help: ArgumentHelp("Ground-truth masks (.npy, (M, H, W), 0/1).", valueName: "file"))
        var groundTruth: String

        @Option(help: ArgumentHelp("One row [image, class] per ground-truth mask (.npy, (M, 2)).", valueName: "file"))
        var groundTruthMeta: String

        @OptionGroup var options: Options

        func run() throws {
            let predictedMasks = try MetricsCommand.masks(try ArrayFiles.read(predictions), file: predictions)
            let truthMasks = try MetricsCommand.masks(try ArrayFiles.read(groundTruth), file: groundTruth)
            if let p = predictedMasks.first, let g = truthMasks.first, p.height != g.height || p.width != g.width {
                throw InputError("\(groundTruth): masks are \(g.height)×\(g.width) but the predictions' in \(predictions) are \(p.height)×\(p.width)")
            }
            let predictionRows = try MetricsCommand.rows(try ArrayFiles.read(predictionMeta), columns: 3, file: predictionMeta)
            let truthRows = try MetricsCommand.rows(try ArrayFiles.read(groundTruthMeta), columns: 2, file: groundTruthMeta)
            try MetricsCommand.requireSameCount(meta: predictionMeta, predictionRows.count, masks: predictions, predictedMasks.count)
            try MetricsCommand.requireSameCount(meta: groundTruthMeta, truthRows.count, masks: groundTruth, truthMasks.count)
            let predicted = try zip(predictionRows, predictedMasks).enumerated().map { row, pair in
                Metrics.Prediction(image: try MetricsCommand.whole(pair.0[0], "image", file: predictionMeta, row: row),
                                   classID: try MetricsCommand.whole(pair.0[1], "class", file: predictionMeta, row: row),
                                   score: pair.0[2], region: pair.1)
            }
            let truth = try zip(truthRows, truthMasks).enumerated().map { row, pair in
                Metrics.GroundTruth(image: try MetricsCommand.whole(pair.0[0], "image", file: groundTruthMeta, row: row),
                                    classID: try MetricsCommand.whole(pair.0[1], "class", file: groundTruthMeta, row: row),
                                    region: pair.1)
            }
            let sources = ArgumentSources(files: ["predictions": predictionMeta, "groundTruth": groundTruthMeta],
                                          options: ["scoreThreshold": "--score-threshold", "maxDetections": "--max-detections"])
            let result = try sources.run {
                try Metrics.evaluate(predictions: predicted, groundTruth: truth, settings: options.settings)
            }
            try MetricsCommand.report(result, kind: "masks", json: options.json)
        }
    }

    // MARK: Reading

    /// The array as rows of `columns` values (float64, so image and class ids stay exact). An
    /// empty array may have shape (0, columns) or (0,).
    static func rows(_ array: NumPyArray, columns: Int, file: String) throws -> [[Double]] {
        let empty = array.shape == [0] || (array.rank == 2 && array.shape[0] == 0)
        guard empty || (array.rank == 2 && array.shape[1] == columns) else {
            throw InputError("\(file): must have shape (rows, \(columns)), got \(array.shape)")
        }
        if empty { return [] }
        let values = try array.doubles()
        return stride(from: 0, to: values.count, by: columns).map { Array(values[$0..<($0 + columns)]) }
    }

    /// An image or class column's value as an integer, or an error naming the file and row.
    static func whole(_ value: Double, _ column: String, file: String, row: Int) throws -> Int {
        guard value.isFinite, value == value.rounded(), abs(value) < 1e15 else {
            throw InputError("\(file)[\(row)]: \(column) must be a whole number, got \(value)")
        }
        return Int(value)
    }

    /// (K, H, W) masks of 0 and 1; an empty array may have shape (0,).
    static func masks(_ array: NumPyArray, file: String) throws -> [InstanceMask] {
        if array.shape == [0] { return [] }
        guard array.rank == 3 else {
            throw InputError("\(file): masks must have shape (count, height, width), got \(array.shape)")
        }
        let (height, width) = (array.shape[1], array.shape[2])
        let pixels = try array.bools()
        let size = height * width
        return try (0..<array.shape[0]).map { k in
            try InstanceMask(height: height, width: width, pixels: pixels[(k * size)..<((k + 1) * size)])
        }
    }

    static func requireSameCount(meta: String, _ rows: Int, masks: String, _ count: Int) throws {
        guard rows == count else {
            throw InputError("\(meta): has \(rows) rows but \(masks) has \(count) masks; one row per mask")
        }
    }

    // MARK: Report

    /// A table per class and the means, or JSON.
    static func report(_ result: Metrics.Result, kind: String, json: Bool) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(Summary(result)), as: UTF8.self))
            return
        }
        let truths = result.classes.reduce(0) { $0 + $1.groundTruths }
        let predictions = result.classes.reduce(0) { $0 + $1.predictions }
        print("\(kind): \(predictions) predictions, \(truths) ground truths, \(result.classes.count) classes; "
              + "precision, recall and F1 at score ≥ \(result.settings.scoreThreshold) and IoU ≥ 0.5")
        let table = TextTable([("class", 6, .left), ("truths", 6, .right), ("predictions", 11, .right),
                               ("mAP50", 6, .right), ("mAP50-95", 8, .right), ("precision", 9, .right),
                               ("recall", 6, .right), ("F1", 6, .right), ("TP", 5, .right), ("FP", 5, .right),
                               ("FN", 5, .right)])
        print(table.header)
        for c in result.classes {
            print(table.line(["\(c.classID)", "\(c.groundTruths)", "\(c.predictions)", cell(c.ap50), cell(c.ap50to95),
                              cell(c.precision), cell(c.recall), cell(c.f1), "\(c.truePositives)",
                              "\(c.falsePositives)", "\(c.falseNegatives)"]))
        }
        print(table.line(["mean", "\(truths)", "\(predictions)", cell(result.map50), cell(result.map50to95),
                          cell(result.precision), cell(result.recall), cell(result.f1), "\(result.truePositives)",
                          "\(result.falsePositives)", "\(result.falseNegatives)"]))
        let left = result.classes.count - result.evaluatedClasses.count
        if left > 0 {
            print("The means are over the classes with ground truth (\(result.evaluatedClasses.count) of "
                  + "\(result.classes.count)); a class without ground truth has no AP, recall or F1 (—).")
        }
    }

    private static func cell(_ value: Double?) -> String { value.map { fixed($0, 4) } ?? "—" }

    /// The JSON of `--json`: the means and `per_class`, keyed by class id; null where a value is
    /// undefined (no ground truth, or no class with ground truth).
    struct Summary: Encodable {
        let values: Values
        let perClass: [String: Values]
        let scoreThreshold: Double
        let maxDetections: Int

        init(_ result: Metrics.Result) {
            values = Values(map50: result.map50, map50to95: result.map50to95, precision: result.precision,
                            recall: result.recall, f1: result.f1, groundTruths: result.classes.reduce(0) { $0 + $1.groundTruths },
                            predictions: result.classes.reduce(0) { $0 + $1.predictions },
                            truePositives: result.truePositives, falsePositives: result.falsePositives,
                            falseNegatives: result.falseNegatives)
            perClass = Dictionary(uniqueKeysWithValues: result.classes.map { c in
                ("\(c.classID)", Values(map50: c.ap50, map50to95: c.ap50to95, precision: c.precision, recall: c.recall,
                                        f1: c.f1, groundTruths: c.groundTruths, predictions: c.predictions,
                                        truePositives: c.truePositives, falsePositives: c.falsePositives,
                                        falseNegatives: c.falseNegatives))
            })
            scoreThreshold = result.settings.scoreThreshold
            maxDetections = result.settings.maxDetections
        }

        enum CodingKeys: String, CodingKey {
            case perClass = "per_class", scoreThreshold = "score_threshold", maxDetections = "max_detections"
        }

        func encode(to encoder: any Encoder) throws {
            try values.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(perClass, forKey: .perClass)
            try container.encode(scoreThreshold, forKey: .scoreThreshold)
            try container.encode(maxDetections, forKey: .maxDetections)
        }

        struct Values: Encodable {
            let map50, map50to95, precision, recall, f1: Double?
            let groundTruths, predictions, truePositives, falsePositives, falseNegatives: Int

            enum CodingKeys: String, CodingKey {
                case map50, map50to95 = "map50_95", precision, recall, f1, groundTruths = "ground_truths", predictions,
                     truePositives = "true_positives", falsePositives = "false_positives",
                     falseNegatives = "false_negatives"
            }

            /// Every key present, null where undefined.
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(map50, forKey: .map50)
                try container.encode(map50to95, forKey: .map50to95)
                try container.encode(precision, forKey: .precision)
                try container.encode(recall, forKey: .recall)
                try container.encode(f1, forKey: .f1)
                try container.encode(groundTruths, forKey: .groundTruths)
                try container.encode(predictions, forKey: .predictions)
                try container.encode(truePositives, forKey: .truePositives)
                try container.encode(falsePositives, forKey: .falsePositives)
                try container.encode(falseNegatives, forKey: .falseNegatives)
            }
        }
    }
}
