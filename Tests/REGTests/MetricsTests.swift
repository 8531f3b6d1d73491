import Foundation
import Testing
import REG
@testable import REGDiagnostics
import REGNumPy

/// The metrics of the paper's §3.1 on hand-worked cases: IoU of boxes and masks, COCO's AP,
/// precision, recall and F1, the conventions (ties, the cap, classes without ground truth), bad
/// input, and `reg metrics` end to end.
@Suite("Metrics: IoU, AP, precision, recall, F1 (hand-worked)")
struct MetricsTests {
    typealias Prediction = Metrics.Prediction<BoundingBox>
    typealias Truth = Metrics.GroundTruth<BoundingBox>

    static func box(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) -> BoundingBox {
        BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2)
    }

    static func prediction(_ image: Int, _ classID: Int, _ score: Double, _ region: BoundingBox) -> Prediction {
        Prediction(image: image, classID: classID, score: score, region: region)
    }

    static func truth(_ image: Int, _ classID: Int, _ region: BoundingBox) -> Truth {
        Truth(image: image, classID: classID, region: region)
    }

    /// |a − b| ≤ 1e-12.
    static func close(_ a: Double?, _ b: Double) -> Bool {
        guard let a else { return false }
        return abs(a - b) <= 1e-12
    }

    // MARK: IoU

    @Test("Box IoU with COCO's continuous area (x2 − x1)·(y2 − y1), no +1")
    func boxIoU() {
        let iou = BoundingBox.intersectionOverUnion
        #expect(Self.box(0, 0, 10, 10).area == 100, "continuous coordinates: 10·10, not 11·11")
        #expect(iou(Self.box(0, 0, 2, 2), Self.box(1, 1, 3, 3)) == 1.0 / 7, "overlap 1, union 4 + 4 − 1 = 7")
        #expect(iou(Self.box(0, 0, 4, 4), Self.box(1, 1, 3, 3)) == 0.25, "contained: 4 / 16")
        #expect(iou(Self.box(0, 0, 10, 10), Self.box(0, 0, 10, 7)) == 0.7)
        #expect(iou(Self.box(2, 3, 7, 9), Self.box(2, 3, 7, 9)) == 1)
        #expect(iou(Self.box(0, 0, 1, 1), Self.box(1, 0, 2, 1)) == 0, "sharing an edge is no overlap")
        #expect(iou(Self.box(0, 0, 1, 1), Self.box(5, 5, 6, 6)) == 0)
        #expect(iou(Self.box(1, 1, 1, 3), Self.box(1, 1, 1, 3)) == 0, "a box of zero width has IoU 0, even with itself")
    }

    @Test("Mask IoU equals pixels in both over pixels in either, counted pixel by pixel", arguments: [(7, 13), (9, 71), (1, 64), (3, 1)])
    func maskIoU(height: Int, width: Int) throws {
        var random = SplitMix64(seed: UInt64(height * 1000 + width))
        for _ in 0..<20 {
            let density = Double.random(in: 0...1, using: &random)
            let a = (0..<(height * width)).map { _ in random.chance(density) }
            let b = (0..<(height * width)).map { _ in random.chance(density) }
            let maskA = try InstanceMask(height: height, width: width, pixels: a)
            let maskB = try InstanceMask(height: height, width: width, pixels: b)
            var both = 0, either = 0
            for i in a.indices {
                if a[i] && b[i] { both += 1 }
                if a[i] || b[i] { either += 1 }
            }
            #expect(maskA.area == a.filter { $0 }.count)
            #expect(InstanceMask.intersection(maskA, maskB) == both)
            #expect(InstanceMask.intersectionOverUnion(maskA, maskB) == (either == 0 ? 0 : Double(both) / Double(either)))
            for y in 0..<height { for x in 0..<width { #expect(maskA[y, x] == a[y * width + x]) } }
        }
        let empty = try InstanceMask(height: height, width: width, pixels: [Bool](repeating: false, count: height * width))
        #expect(InstanceMask.intersectionOverUnion(empty, empty) == 0, "an empty union is IoU 0")
        #expect(throws: InvalidArgument("mask", "has 1 pixels; 2×2 needs 4")) { try InstanceMask(height: 2, width: 2, pixels: [true]) }
    }

    @Test("Greedy matching: the highest IoU ≥ the threshold not yet taken; equal IoUs go to the last ground truth")
    func greedyMatching() {
        #expect(Metrics.greedyMatch(ious: [[0.7, 0.9, 0.8]], threshold: 0.5) == [1])
        #expect(Metrics.greedyMatch(ious: [[0.6, 0.6]], threshold: 0.5) == [1], "pycocotools replaces its best on ≥")
        #expect(Metrics.greedyMatch(ious: [[0.6, 0.6], [0.6, 0.6], [0.9, 0.9]], threshold: 0.5) == [1, 0, nil])
        #expect(Metrics.greedyMatch(ious: [[0.49]], threshold: 0.5) == [nil])
        #expect(Metrics.greedyMatch(ious: [[0.5]], threshold: 0.5) == [0], "IoU ≥ threshold matches")
        #expect(Metrics.greedyMatch(ious: [[], []], threshold: 0.5) == [nil, nil], "no ground truth")
        #expect(Metrics.iouThresholds.count == 10 && Metrics.iouThresholds.first == 0.5 && Metrics.iouThresholds.last == 0.95)
        #expect(Metrics.recallThresholds.count == 101 && Metrics.recallThresholds[30] == 0.3 && Metrics.recallThresholds.last == 1)
    }

    // MARK: AP, precision, recall, F1

    @Test("Perfect predictions: every metric is 1")
    func perfect() throws {
        let truths = [Self.truth(0, 1, Self.box(0, 0, 10, 10)), Self.truth(0, 2, Self.box(20, 20, 30, 40)),
                      Self.truth(1, 1, Self.box(5, 5, 9, 9)), Self.truth(2, 2, Self.box(0, 0, 3, 3)),
                      Self.truth(2, 2, Self.box(50, 50, 60, 60))]
        let predictions = truths.enumerated().map { n, t in Self.prediction(t.image, t.classID, 0.9 - 0.1 * Double(n), t.region) }
        let result = try Metrics.evaluate(predictions: predictions, groundTruth: truths)
        #expect(result.map50 == 1 && result.map50to95 == 1)
        #expect(result.precision == 1 && result.recall == 1 && result.f1 == 1)
        #expect(result.classes.map(\.averagePrecisions) == [[Double](repeating: 1, count: 10), [Double](repeating: 1, count: 10)])
        #expect(result.truePositives == 5 && result.falsePositives == 0 && result.falseNegatives == 0)
    }

    @Test("One false positive: AP 1 when it ranks below the true positive, 0.5 above it; precision 1/2")
    func oneFalsePositive() throws {
        let truths = [Self.truth(0, 1, Self.box(0, 0, 10, 10))]
        for (falseScore, expected) in [(0.8, 1.0), (0.95, 0.5)] {
            let predictions = [Self.prediction(0, 1, 0.9, Self.box(0, 0, 10, 10)),
                               Self.prediction(0, 1, falseScore, Self.box(40, 40, 50, 50))]
            let result = try Metrics.evaluate(predictions: predictions, groundTruth: truths)
            // Below: precisions 1, 1/2 at recall 1, 1 → 1 at every recall threshold. Above: 0, 1/2
            // at recall 0, 1, monotone from the right 1/2, 1/2 → 1/2 at every threshold.
            #expect(result.map50 == expected && result.map50to95 == expected, "false positive at \(falseScore)")
            #expect(result.precision == 0.5 && result.recall == 1)
            #expect(Self.close(result.f1, 2.0 / 3), "2·(1/2)·1 / (3/2)")
            #expect(result[1]?.truePositives == 1 && result[1]?.falsePositives == 1 && result[1]?.falseNegatives == 0)
        }
    }

    @Test("One missed object: AP 51/101, recall 1/2, precision 1")
    func oneMissed() throws {
        let truths = [Self.truth(0, 1, Self.box(0, 0, 10, 10)), Self.truth(0, 1, Self.box(30, 30, 40, 40))]
        let result = try Metrics.evaluate(predictions: [Self.prediction(0, 1, 0.9, Self.box(0, 0, 10, 10))], groundTruth: truths)
        // Recall reaches 1/2 with precision 1: the thresholds 0, 0.01, …, 0.50 (51 of 101) get 1.
        #expect(Self.close(result.map50, 51.0 / 101) && Self.close(result.map50to95, 51.0 / 101))
        #expect(result.precision == 1 && result.recall == 0.5 && Self.close(result.f1, 2.0 / 3))
        #expect(result.falseNegatives == 1)
    }

    @Test("Duplicates: the second prediction of an object is a false positive")
    func duplicates() throws {
        let truths = [Self.truth(0, 1, Self.box(0, 0, 10, 10))]
        let predictions = [Self.prediction(0, 1, 0.9, Self.box(0, 0, 10, 10)), Self.prediction(0, 1, 0.8, Self.box(0, 0, 10, 10)),
                           Self.prediction(0, 1, 0.7, Self.box(0, 0, 10, 9))]
        let result = try Metrics.evaluate(predictions: predictions, groundTruth: truths)
        #expect(result.map50 == 1 && result.map50to95 == 1, "the duplicates rank after recall 1")
        #expect(result[1]?.truePositives == 1 && result[1]?.falsePositives == 2)
        #expect(Self.close(result.precision, 1.0 / 3))
    }

    @Test("A class with no ground truth: no AP or recall, left out of the means, its false positives still counted")
    func classWithoutGroundTruth() throws {
        let truths = [Self.truth(0, 1, Self.box(0, 0, 10, 10))]
        let predictions = [Self.prediction(0, 1, 0.9, Self.box(0, 0, 10, 10)), Self.prediction(0, 3, 0.99, Self.box(0, 0, 10, 10))]
        let result = try Metrics.evaluate(predictions: predictions, groundTruth: truths)
        let empty = try #require(result[3])
        #expect(empty.averagePrecisions == nil && empty.ap50 == nil && empty.ap50to95 == nil)
        #expect(empty.recall == nil && empty.f1 == nil && empty.precision == 0 && empty.falsePositives == 1)
        #expect(result.evaluatedClasses.map(\.classID) == [1])
        #expect(result.map50 == 1 && result.map50to95 == 1 && result.precision == 1 && result.recall == 1)
        #expect(result.falsePositives == 1, "pooled counts include the class without ground truth")
        let none = try Metrics.evaluate(predictions: predictions, groundTruth: [])
        #expect(none.map50 == nil && none.map50to95 == nil && none.precision == nil && none.f1 == nil)
    }

    /// Three ground truths in two images; five predictions ranked P1…P5 (scores 0.9…0.5):
    /// P1 IoU 0.82 with g1 (image 0), P2 a false positive (image 0), P3 IoU 0.62 with g2 (image 1),
    /// P4 a false positive (image 1), P5 IoU ≈ 0.92 with g3 (image 1).
    @Test("A case worked by hand: AP at 0.5, 0.75, 0.85 and 0.95, and AP50-95")
    func workedByHand() throws {
        let truths = [Self.truth(0, 1, Self.box(0, 0, 10, 10)), Self.truth(1, 1, Self.box(0, 0, 10, 10)),
                      Self.truth(1, 1, Self.box(100, 100, 110, 110))]
        let predictions = [Self.prediction(1, 1, 0.5, Self.box(100, 100, 110, 109.2)),  // P5: 92/100
                           Self.prediction(0, 1, 0.9, Self.box(0, 0, 10, 8.2)),         // P1: 82/100
                           Self.prediction(1, 1, 0.6, Self.box(50, 50, 60, 60)),         // P4
                           Self.prediction(0, 1, 0.8, Self.box(50, 50, 60, 60)),         // P2
                           Self.prediction(1, 1, 0.7, Self.box(0, 0, 10, 6.2))]          // P3: 62/100
        let result = try Metrics.evaluate(predictions: predictions, groundTruth: truths)
        let aps = try #require(result[1]?.averagePrecisions)
        // t = 0.50, 0.55, 0.60: TP FP TP FP TP. Cumulative precision 1, 1/2, 2/3, 1/2, 3/5 at recall
        // 1/3, 1/3, 2/3, 2/3, 1; monotone from the right 1, 2/3, 2/3, 3/5, 3/5. Recall thresholds
        // 0…0.33 (34) take rank 1 → 1; 0.34…0.66 (33) take rank 3 → 2/3; 0.67…1 (34) take rank 5
        // → 3/5. AP = (34·1 + 33·2/3 + 34·3/5) / 101 = (34 + 22 + 20.4) / 101 = 76.4/101.
        for t in 0..<3 { #expect(Self.close(aps[t], 76.4 / 101), "t = \(Metrics.iouThresholds[t])") }
        // t = 0.65 … 0.80 (P3's 0.62 fails): TP FP FP FP TP. Precision 1, 1/2, 1/3, 1/4, 2/5 at
        // recall 1/3 ×4, 2/3; monotone 1, 1/2, 2/5, 2/5, 2/5. Thresholds 0…0.33 → 1 (34),
        // 0.34…0.66 → rank 5 → 2/5 (33), 0.67…1 → never reached → 0. AP = (34 + 13.2) / 101.
        for t in 3..<7 { #expect(Self.close(aps[t], 47.2 / 101), "t = \(Metrics.iouThresholds[t])") }
        // t = 0.85, 0.90 (P1's 0.82 fails too): FP FP FP FP TP. Precision 0, 0, 0, 0, 1/5 at recall
        // 0 ×4, 1/3; monotone 1/5 everywhere. Thresholds 0…0.33 → 1/5 (34), the rest 0.
        // AP = 34·0.2 / 101 = 6.8/101.
        for t in 7..<9 { #expect(Self.close(aps[t], 6.8 / 101), "t = \(Metrics.iouThresholds[t])") }
        // t = 0.95: no match, AP 0.
        #expect(aps[9] == 0)
        // AP50-95 = (3·76.4 + 4·47.2 + 2·6.8 + 0) / 10 / 101 = 431.6 / 1010.
        #expect(Self.close(result.map50to95, 431.6 / 1010))
        #expect(Self.close(result.map50, 76.4 / 101))
        // At score ≥ 0.5 all five count: TP 3, FP 2 → P = 3/5, R = 1, F1 = 2·0.6 / 1.6 = 0.75.
        #expect(Self.close(result.precision, 0.6) && result.recall == 1 && Self.close(result.f1, 0.75))
        // At score ≥ 0.65: P1 P2 P3 → TP 2, FP 1, FN 1.
        let strict = try Metrics.evaluate(predictions: predictions, groundTruth: truths, settings: .init(scoreThreshold: 0.65))
        #expect(strict[1]?.truePositives == 2 && strict[1]?.falsePositives == 1 && strict[1]?.falseNegatives == 1)
        #expect(strict.map50 == result.map50, "AP does not depend on the score threshold")
    }

    @Test("An IoU equal to a threshold matches: IoU 0.7 counts at 0.50…0.70, AP50-95 = 5/10")
    func iouOnThreshold() throws {
        let result = try Metrics.evaluate(predictions: [Self.prediction(0, 1, 1, Self.box(0, 0, 10, 7))],
                                          groundTruth: [Self.truth(0, 1, Self.box(0, 0, 10, 10))])
        #expect(result[1]?.averagePrecisions == [1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
        #expect(result.map50to95 == 0.5)
    }

    @Test("Ties in score: lower image first, then input order, as pycocotools' mergesort")
    func ties() throws {
        let truths = [Self.truth(0, 1, Self.box(0, 0, 10, 10))]
        let good = Self.box(0, 0, 10, 10), bad = Self.box(5, 5, 20, 20)
        // Same image: the row given first ranks first.
        let badFirst = try Metrics.evaluate(predictions: [Self.prediction(0, 1, 0.8, bad), Self.prediction(0, 1, 0.8, good)],
                                            groundTruth: truths)
        #expect(badFirst.map50 == 0.5, "FP then TP: precision 0, 1/2 → 1/2")
        let goodFirst = try Metrics.evaluate(predictions: [Self.prediction(0, 1, 0.8, good), Self.prediction(0, 1, 0.8, bad)],
                                             groundTruth: truths)
        #expect(goodFirst.map50 == 1)
        // Across images: image 0's prediction ranks first although it is given second.
        let acrossImages = try Metrics.evaluate(predictions: [Self.prediction(1, 1, 0.8, good), Self.prediction(0, 1, 0.8, good)],
                                                groundTruth: truths)
        #expect(acrossImages.map50 == 1)
    }

    @Test("At most maxDetections predictions per image and class, the highest scores")
    func detectionCap() throws {
        let truths = [Self.truth(0, 1, Self.box(0, 0, 10, 10))]
        let predictions = [Self.prediction(0, 1, 0.9, Self.box(40, 40, 50, 50)), Self.prediction(0, 1, 0.8, Self.box(60, 60, 70, 70)),
                           Self.prediction(0, 1, 0.7, Self.box(0, 0, 10, 10)), Self.prediction(1, 1, 0.1, Self.box(0, 0, 1, 1))]
        // FP FP TP: precision 0, 0, 1/3 at recall 0, 0, 1 → 1/3 at every threshold.
        #expect(Self.close(try Metrics.evaluate(predictions: predictions, groundTruth: truths).map50, 1.0 / 3))
        let capped = try Metrics.evaluate(predictions: predictions, groundTruth: truths, settings: .init(scoreThreshold: 0, maxDetections: 2))
        #expect(capped.map50 == 0, "the true positive is the third of image 0")
        #expect(capped[1]?.truePositives == 0 && capped[1]?.falsePositives == 3, "image 1 keeps its one prediction")
        #expect(capped[1]?.predictions == 4, "the count is of the predictions given")
    }

    @Test("averagePrecision: no predictions give 0; a true positive after every false positive")
    func averagePrecisionDirect() {
        #expect(Metrics.averagePrecision(matches: [], groundTruths: 3) == 0)
        // FP TP: precision 0, 1/2 at recall 0, 1; monotone 1/2, 1/2 → every threshold 1/2.
        #expect(Metrics.averagePrecision(matches: [false, true], groundTruths: 1) == 0.5)
    }

    @Test("Bad input names the argument and the row")
    func validation() throws {
        let good = Self.box(0, 0, 1, 1)
        let cases: [([Prediction], [Truth], Metrics.Settings, InvalidArgument)] = [
            ([Self.prediction(0, 1, 1, good), Self.prediction(0, 1, 1, Self.box(5, 0, 1, 1))], [], .init(),
             InvalidArgument("predictions", index: [1], "x2 = 1.0 is less than x1 = 5.0")),
            ([], [Self.truth(0, 1, Self.box(0, 3, 1, 2))], .init(), InvalidArgument("groundTruth", index: [0], "y2 = 2.0 is less than y1 = 3.0")),
            ([], [Self.truth(0, 0, good)], .init(), InvalidArgument("groundTruth", index: [0], "class must be ≥ 1, got 0")),
            ([Self.prediction(-1, 1, 1, good)], [], .init(), InvalidArgument("predictions", index: [0], "image must be ≥ 0, got -1")),
            ([Self.prediction(0, 1, .nan, good)], [], .init(), InvalidArgument("predictions", index: [0], "score must be finite, got nan")),
            ([Self.prediction(0, 1, 1, Self.box(0, 0, .infinity, 1))], [], .init(),
             InvalidArgument("predictions", index: [0], "x2 must be finite, got inf")),
            ([], [], .init(maxDetections: 0), InvalidArgument("maxDetections", "must be at least 1, got 0")),
        ]
        for (predictions, truths, settings, expected) in cases {
            #expect(throws: expected) { try Metrics.evaluate(predictions: predictions, groundTruth: truths, settings: settings) }
        }
        let small = try InstanceMask(height: 2, width: 2, pixels: [true, false, false, true])
        let large = try InstanceMask(height: 2, width: 3, pixels: [Bool](repeating: true, count: 6))
        #expect(throws: InvalidArgument("predictions", index: [0], "mask is 2×3 but another mask of the same image is 2×2")) {
            try Metrics.evaluate(predictions: [Metrics.Prediction(image: 0, classID: 1, score: 1, region: large)],
                                 groundTruth: [Metrics.GroundTruth(image: 0, classID: 1, region: small)])
        }
        // Masks of different sizes in different images are fine.
        _ = try Metrics.evaluate(predictions: [Metrics.Prediction(image: 1, classID: 1, score: 1, region: large)],
                                 groundTruth: [Metrics.GroundTruth(image: 0, classID: 1, region: small)])
    }

    // MARK: reg metrics

    typealias Scratch = CommandLineArrayTests.Scratch

    static func save(_ array: NumPyArray, _ path: String) throws {
        try array.write(to: URL(fileURLWithPath: path))
    }

    static func boxRows(_ predictions: [Prediction]) -> [Double] {
        predictions.flatMap { [Double($0.image), Double($0.classID), $0.score, $0.region.x1, $0.region.y1, $0.region.x2, $0.region.y2] }
    }

    @Test("reg metrics boxes: JSON with the means and per_class (null without ground truth), and the table")
    func commandBoxes() throws {
        let scratch = try Scratch()
        let predictions: [Double] = [0, 1, 0.9, 0, 0, 10, 10, 0, 1, 0.95, 40, 40, 50, 50, 1, 2, 0.7, 0, 0, 5, 5]
        let truths: [Double] = [0, 1, 0, 0, 10, 10, 0, 1, 30, 30, 40, 40]
        try Self.save(try NumPyArray(shape: [3, 7], float64: predictions), scratch.path("p.npy"))
        try Self.save(try NumPyArray(shape: [2, 6], float32: truths.map(Float.init)), scratch.path("g.npy"))
        let outcome = try CommandLineTool.run(["metrics", "boxes", "--predictions", scratch.path("p.npy"),
                                               "--ground-truth", scratch.path("g.npy"), "--json"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])
        // Class 1: FP (0.95) then TP (0.9) of 2 ground truths: precision 0, 1/2 at recall 0, 1/2;
        // monotone 1/2, 1/2 → thresholds 0…0.50 (51) get 1/2: AP = 25.5/101 at every IoU.
        for key in ["map50", "map50_95"] {
            #expect(Self.close(summary[key] as? Double, 25.5 / 101), "\(key): \(outcome.standardOutput)")
        }
        #expect(summary["precision"] as? Double == 0.5 && summary["recall"] as? Double == 0.5 && summary["f1"] as? Double == 0.5)
        let perClass = try #require(summary["per_class"] as? [String: [String: Any]])
        #expect(Set(perClass.keys) == ["1", "2"])
        for key in ["map50", "map50_95", "recall", "f1"] { #expect(perClass["2"]?[key] is NSNull, "\(key)") }
        #expect(perClass["2"]?["false_positives"] as? Int == 1)
        #expect(Self.close(perClass["1"]?["map50"] as? Double, 25.5 / 101))

        let table = try CommandLineTool.run(["metrics", "boxes", "--predictions", scratch.path("p.npy"),
                                             "--ground-truth", scratch.path("g.npy"), "--score-threshold", "0.92"])
        #expect(table.status == 0, "\(table.standardError)")
        let lines = table.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("class") && $0.contains("mAP50-95") && $0.contains("F1") })
        #expect(lines.contains { $0.hasPrefix("1 ") && $0.contains("0.2525") }, "\(table.standardOutput)")
        #expect(lines.contains { $0.hasPrefix("2 ") && $0.contains("—") }, "\(table.standardOutput)")
        #expect(lines.contains { $0.hasPrefix("mean") }, "\(table.standardOutput)")
        #expect(table.standardOutput.contains("score ≥ 0.92"))
    }

    @Test("reg metrics masks: IoU by pixels through the files")
    func commandMasks() throws {
        let scratch = try Scratch()
        let (height, width) = (4, 5)
        func mask(_ pixels: [(Int, Int)]) -> [UInt8] {
            var m = [UInt8](repeating: 0, count: height * width)
            for (y, x) in pixels { m[y * width + x] = 1 }
            return m
        }
        // Ground truth: 4 pixels. Prediction 1 covers 3 of them plus 1 more: IoU 3/5 (≥ 0.5, < 0.65).
        // Prediction 2, a lower score, covers the whole object: it finds it taken at ≤ 0.60 (FP)
        // and matches at 0.65…0.95 where prediction 1 fails.
        let truth = mask([(0, 0), (0, 1), (1, 0), (1, 1)])
        let first = mask([(0, 0), (0, 1), (1, 0), (2, 2)])
        try Self.save(try NumPyArray(shape: [1, height, width], bool: truth.map { $0 == 1 }), scratch.path("gm.npy"))
        try Self.save(try NumPyArray(shape: [1, 2], float64: [0, 1]), scratch.path("gmeta.npy"))
        try Self.save(try NumPyArray(shape: [2, height, width], uint8: first + truth), scratch.path("pm.npy"))
        try Self.save(try NumPyArray(shape: [2, 3], float64: [0, 1, 0.9, 0, 1, 0.8]), scratch.path("pmeta.npy"))
        let outcome = try CommandLineTool.run(["metrics", "masks", "--predictions", scratch.path("pm.npy"),
                                               "--prediction-meta", scratch.path("pmeta.npy"), "--ground-truth", scratch.path("gm.npy"),
                                               "--ground-truth-meta", scratch.path("gmeta.npy"), "--json"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])
        // Every threshold: one TP among two predictions, at rank 1 (t ≤ 0.60) or rank 2 (t ≥ 0.65):
        // AP 1 at 0.50, 0.55, 0.60 and 1/2 at the seven others → AP50-95 = (3 + 3.5) / 10 = 0.65.
        #expect(summary["map50"] as? Double == 1)
        #expect(Self.close(summary["map50_95"] as? Double, 0.65), "\(outcome.standardOutput)")
        #expect(summary["precision"] as? Double == 0.5 && summary["recall"] as? Double == 1)
    }

    @Test("reg metrics: bad files and rows are named, exit 1; bad options exit 64")
    func commandErrors() throws {
        let scratch = try Scratch()
        func save(_ name: String, _ shape: [Int], _ values: [Double]) throws {
            try Self.save(try NumPyArray(shape: shape, float64: values), scratch.path(name))
        }
        try save("g.npy", [1, 6], [0, 1, 0, 0, 10, 10])
        try save("p6.npy", [1, 6], [0, 1, 0, 0, 10, 10])
        try save("flipped.npy", [2, 7], [0, 1, 0.5, 0, 0, 1, 1, 0, 1, 0.5, 5, 0, 1, 1])
        try save("class0.npy", [1, 6], [0, 0, 0, 0, 10, 10])
        try save("nan.npy", [1, 7], [0, 1, .nan, 0, 0, 1, 1])
        try save("half.npy", [3, 7], [0, 1, 0.5, 0, 0, 1, 1, 0, 1, 0.5, 0, 0, 1, 1, 1.5, 1, 0.5, 0, 0, 1, 1])
        let boxCases: [([String], Int32, String)] = [
            (["--predictions", scratch.path("p6.npy"), "--ground-truth", scratch.path("g.npy")], 1,
             "p6.npy: must have shape (rows, 7), got [1, 6]"),
            (["--predictions", scratch.path("flipped.npy"), "--ground-truth", scratch.path("g.npy")], 1,
             "flipped.npy[1]: x2 = 1.0 is less than x1 = 5.0"),
            (["--predictions", scratch.path("nan.npy"), "--ground-truth", scratch.path("g.npy")], 1,
             "nan.npy[0]: score must be finite, got nan"),
            (["--predictions", scratch.path("half.npy"), "--ground-truth", scratch.path("g.npy")], 1,
             "half.npy[2]: image must be a whole number, got 1.5"),
            (["--predictions", scratch.path("flipped.npy"), "--ground-truth", scratch.path("class0.npy")], 1,
             "class0.npy[0]: class must be ≥ 1, got 0"),
            (["--predictions", scratch.path("nan.npy"), "--ground-truth", scratch.path("g.npy"), "--score-threshold", "nan"], 64,
             "--score-threshold: must be finite"),
            (["--predictions", scratch.path("nan.npy"), "--ground-truth", scratch.path("g.npy"), "--max-detections", "0"], 64,
             "--max-detections: must be ≥ 1, got 0"),
        ]
        for (arguments, status, message) in boxCases {
            let outcome = try CommandLineTool.run(["metrics", "boxes"] + arguments)
            #expect(outcome.status == status, "\(arguments): \(outcome.standardError)")
            #expect(outcome.standardError.contains(message), "\(arguments): \(outcome.standardError)")
        }

        try Self.save(try NumPyArray(shape: [2, 2, 2], uint8: [1, 0, 0, 1, 1, 1, 0, 0]), scratch.path("pm.npy"))
        try Self.save(try NumPyArray(shape: [1, 2, 2], uint8: [1, 0, 0, 2]), scratch.path("gm2.npy"))
        try Self.save(try NumPyArray(shape: [1, 3, 2], uint8: [1, 0, 0, 1, 0, 0]), scratch.path("gm32.npy"))
        try Self.save(try NumPyArray(shape: [1, 2, 2], uint8: [1, 0, 0, 1]), scratch.path("gm.npy"))
        try save("pmeta1.npy", [1, 3], [0, 1, 0.5])
        try save("pmeta.npy", [2, 3], [0, 1, 0.5, 0, 1, 0.25])
        try save("gmeta.npy", [1, 2], [0, 1])
        try save("gmeta0.npy", [1, 2], [0, 0])
        func maskArguments(_ pm: String, _ pmeta: String, _ gm: String, _ gmeta: String) -> [String] {
            ["--predictions", scratch.path(pm), "--prediction-meta", scratch.path(pmeta),
             "--ground-truth", scratch.path(gm), "--ground-truth-meta", scratch.path(gmeta)]
        }
        let maskCases: [([String], String)] = [
            (maskArguments("pm.npy", "pmeta1.npy", "gm.npy", "gmeta.npy"), "pmeta1.npy: has 1 rows but"),
            (maskArguments("pm.npy", "pmeta.npy", "gm2.npy", "gmeta.npy"), "gm2.npy: element [0, 1, 1] = 2"),
            (maskArguments("pm.npy", "pmeta.npy", "gm32.npy", "gmeta.npy"), "gm32.npy: masks are 3×2 but the predictions'"),
            (maskArguments("pm.npy", "pmeta.npy", "gm.npy", "gmeta0.npy"), "gmeta0.npy[0]: class must be ≥ 1, got 0"),
            (maskArguments("pmeta.npy", "pmeta.npy", "gm.npy", "gmeta.npy"), "masks must have shape (count, height, width)"),
        ]
        for (arguments, message) in maskCases {
            let outcome = try CommandLineTool.run(["metrics", "masks"] + arguments)
            #expect(outcome.status == 1, "\(arguments): \(outcome.standardError)")
            #expect(outcome.standardError.contains(message), "\(arguments): \(outcome.standardError)")
        }
    }
}
