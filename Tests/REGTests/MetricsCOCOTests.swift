import Foundation
import Testing
import REG
@testable import REGDiagnostics
import REGNumPy

/// `Metrics` against pycocotools' COCOeval on random cases (fixed seeds): several images and
/// classes, a class with predictions only and one with ground truth only, duplicates, ties in
/// score, boxes and instance masks. The cases go to `tools/coco_reference.py` as .npy files (the
/// files `reg metrics` reads), run by the Python of `.build/venv`, which this suite creates with
/// numpy and pycocotools when it is missing. AP at every IoU threshold, mAP50 and mAP50-95 per
/// class and as means must agree within 1e-6, and the true and false positives at the score
/// threshold exactly.
@Suite("Metrics against pycocotools")
struct MetricsCOCOTests {
    typealias Scratch = CommandLineArrayTests.Scratch

    static let tolerance = 1e-6

    // MARK: Python

    /// The package's root folder.
    static let root = PackageRoot.url

    /// The venv's Python with numpy and pycocotools, made once per test run (a static `let` is
    /// initialised once, even when the tests run in parallel), or why it could not be made.
    static let python: Swift.Result<String, SetupFailure> = makePython()

    static func run(_ executable: String, _ arguments: [String]) -> ProcessOutcome {
        ProcessOutcome.run(executable, arguments)
    }

    static func makePython() -> Swift.Result<String, SetupFailure> {
        let venv = root.appendingPathComponent(".build/venv")
        let python = venv.appendingPathComponent("bin/python").path
        let check = ["-c", "import numpy, pycocotools.coco, pycocotools.cocoeval, pycocotools.mask"]
        if FileManager.default.isExecutableFile(atPath: python), run(python, check).status == 0 { return .success(python) }
        var log = ""
        if !FileManager.default.isExecutableFile(atPath: python) {
            let made = run("/usr/bin/env", ["python3", "-m", "venv", venv.path])
            log += made.output + made.error
            guard made.status == 0 else {
                return .failure(SetupFailure(description: "`python3 -m venv \(venv.path)` failed (status \(made.status)): \(log)"))
            }
        }
        let pip = run(venv.appendingPathComponent("bin/pip").path, ["install", "-q", "numpy", "pycocotools"])
        log += pip.output + pip.error
        let imported = run(python, check)
        guard pip.status == 0, imported.status == 0 else {
            return .failure(SetupFailure(description: """
                the pycocotools comparison needs \(python) with numpy and pycocotools; \
                `\(venv.path)/bin/pip install -q numpy pycocotools` gave status \(pip.status) and the import \
                \(imported.status): \(log)\(imported.error)
                """))
        }
        return .success(python)
    }

    /// What tools/coco_reference.py prints, decoded with `JSONDecoder` (correctly rounded;
    /// `JSONSerialization` on Linux may be off by an ulp).
    struct Reference: Decodable {
        let map50: Double?
        let map50to95: Double?
        let perClass: [String: ClassReference]

        enum CodingKeys: String, CodingKey {
            case map50, map50to95 = "map50_95", perClass = "per_class"
        }
    }

    struct ClassReference: Decodable {
        /// AP at each IoU threshold; nil without ground truth.
        let ap: [Double]?
        let map50: Double?
        let map50to95: Double?
        let truePositives: Int
        let falsePositives: Int

        enum CodingKeys: String, CodingKey {
            case ap, map50, map50to95 = "map50_95", truePositives = "true_positives", falsePositives = "false_positives"
        }
    }

    /// The means `reg metrics --json` prints.
    struct CommandSummary: Decodable, Equatable {
        let map50: Double?
        let map50to95: Double?
        let precision: Double?
        let recall: Double?
        let f1: Double?

        enum CodingKeys: String, CodingKey {
            case map50, map50to95 = "map50_95", precision, recall, f1
        }
    }

    /// tools/coco_reference.py's results for the files `arguments` names.
    static func reference(_ arguments: [String]) throws -> Reference {
        let python: String
        switch Self.python {
        case .success(let path): python = path
        case .failure(let failure): throw failure
        }
        let outcome = run(python, [root.appendingPathComponent("tools/coco_reference.py").path] + arguments)
        guard outcome.status == 0 else {
            throw SetupFailure(description: "tools/coco_reference.py \(arguments) failed (\(outcome.status)): \(outcome.error)")
        }
        return try JSONDecoder().decode(Reference.self, from: Data(outcome.output.utf8))
    }

    /// `reg metrics kind --json` on `files`; it must give the library's means exactly.
    static func expectCommand(_ kind: String, _ files: [String], gives result: Metrics.Result) throws {
        let outcome = try CommandLineTool.run(["metrics", kind, "--json"] + files)
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let summary = try JSONDecoder().decode(CommandSummary.self, from: Data(outcome.standardOutput.utf8))
        #expect(summary == CommandSummary(map50: result.map50, map50to95: result.map50to95, precision: result.precision,
                                          recall: result.recall, f1: result.f1))
    }

    // MARK: Comparison

    /// The largest |difference| of every AP, mAP50 and mAP50-95, per class and mean; records an
    /// issue for a value outside the tolerance, a null on one side only, or different counts.
    static func compare(_ result: Metrics.Result, _ coco: Reference, _ label: String) throws -> Double {
        var largest = 0.0
        func check(_ ours: Double?, _ theirs: Double?, _ what: String) {
            guard let ours, let theirs else {
                #expect(ours == nil && theirs == nil, "\(label) \(what): ours \(String(describing: ours)), pycocotools \(String(describing: theirs))")
                return
            }
            largest = max(largest, abs(ours - theirs))
            #expect(abs(ours - theirs) <= tolerance, "\(label) \(what): ours \(ours), pycocotools \(theirs)")
        }
        check(result.map50, coco.map50, "map50")
        check(result.map50to95, coco.map50to95, "map50_95")
        #expect(Set(coco.perClass.keys) == Set(result.classes.map { "\($0.classID)" }), "\(label): classes")
        for c in result.classes {
            let theirs = try #require(coco.perClass["\(c.classID)"])
            check(c.ap50, theirs.map50, "class \(c.classID) map50")
            check(c.ap50to95, theirs.map50to95, "class \(c.classID) map50_95")
            #expect((c.averagePrecisions == nil) == (theirs.ap == nil), "\(label) class \(c.classID): AP per threshold")
            if let ours = c.averagePrecisions, let aps = theirs.ap {
                for (t, (a, b)) in zip(ours, aps).enumerated() { check(a, b, "class \(c.classID) AP@\(Metrics.iouThresholds[t])") }
            }
            #expect(theirs.truePositives == c.truePositives, "\(label) class \(c.classID): true positives")
            #expect(theirs.falsePositives == c.falsePositives, "\(label) class \(c.classID): false positives")
        }
        return largest
    }

    // MARK: Cases

    /// A random score: a multiple of 0.1 half the time (ties), uniform otherwise.
    static func score(_ random: inout SplitMix64) -> Double {
        random.chance(0.5) ? Double(Int.random(in: 1...9, using: &random)) / 10 : Double.random(in: 0.01...1, using: &random)
    }

    /// Images 0, 2, 3, 5, 8 (gaps in the ids); classes 1…3 have ground truth (3 no predictions in
    /// some images), 4 predictions only. Predictions: jittered copies of the ground truth (IoUs
    /// spread over the thresholds), duplicates, and boxes anywhere; and in image 9 a tie in IoU.
    static func boxCase(seed: UInt64) -> (predictions: [Metrics.Prediction<BoundingBox>], truths: [Metrics.GroundTruth<BoundingBox>]) {
        var random = SplitMix64(seed: seed)
        var predictions: [Metrics.Prediction<BoundingBox>] = []
        var truths: [Metrics.GroundTruth<BoundingBox>] = []
        func randomBox() -> BoundingBox {
            let x = Double.random(in: 0..<120, using: &random), y = Double.random(in: 0..<120, using: &random)
            return BoundingBox(x1: x, y1: y, x2: x + Double.random(in: 2..<40, using: &random),
                               y2: y + Double.random(in: 2..<40, using: &random))
        }
        for image in [0, 2, 3, 5, 8] {
            for classID in 1...4 {
                let count = classID == 4 ? 0 : Int.random(in: 0...5, using: &random)
                for _ in 0..<count {
                    let box = randomBox()
                    truths.append(Metrics.GroundTruth(image: image, classID: classID, region: box))
                    let copies = random.chance(0.15) ? 0 : (random.chance(0.2) ? 2 : 1)
                    for _ in 0..<copies {
                        let (w, h) = (box.x2 - box.x1, box.y2 - box.y1)
                        let spread = Double.random(in: 0...0.35, using: &random)
                        let dx = Double.random(in: -spread...spread, using: &random) * w
                        let dy = Double.random(in: -spread...spread, using: &random) * h
                        let dw = Double.random(in: -spread...spread, using: &random) * w
                        let dh = Double.random(in: -spread...spread, using: &random) * h
                        let jittered = BoundingBox(x1: box.x1 + dx, y1: box.y1 + dy, x2: box.x1 + dx + max(0.5, w + dw),
                                                   y2: box.y1 + dy + max(0.5, h + dh))
                        predictions.append(Metrics.Prediction(image: image, classID: classID, score: score(&random), region: jittered))
                    }
                }
                if classID == 3 && random.chance(0.5) { continue }
                for _ in 0..<Int.random(in: 0...3, using: &random) {
                    predictions.append(Metrics.Prediction(image: image, classID: classID, score: score(&random), region: randomBox()))
                }
            }
        }
        // A tie in IoU: the first prediction overlaps both ground truths by 90/110; the one it
        // takes (the last of them in input order, as in pycocotools) decides whether the second,
        // a copy of g1 with IoU 80/120 with g2, matches at 0.70…0.80.
        truths += [Metrics.GroundTruth(image: 9, classID: 2, region: BoundingBox(x1: 0, y1: 0, x2: 10, y2: 10)),
                   Metrics.GroundTruth(image: 9, classID: 2, region: BoundingBox(x1: 2, y1: 0, x2: 12, y2: 10))]
        predictions += [Metrics.Prediction(image: 9, classID: 2, score: 0.9, region: BoundingBox(x1: 1, y1: 0, x2: 11, y2: 10)),
                        Metrics.Prediction(image: 9, classID: 2, score: 0.8, region: BoundingBox(x1: 0, y1: 0, x2: 10, y2: 10))]
        // Shuffle, so that ranking by image and input order is exercised.
        predictions.shuffle(using: &random)
        truths.shuffle(using: &random)
        return (predictions, truths)
    }

    static let maskSize = (height: 24, width: 31)

    /// A filled ellipse, or a rectangle, with some pixels flipped.
    static func randomMask(_ random: inout SplitMix64) -> [Bool] {
        let (height, width) = maskSize
        let cy = Double.random(in: 0..<Double(height), using: &random), cx = Double.random(in: 0..<Double(width), using: &random)
        let ry = Double.random(in: 1.5...8, using: &random), rx = Double.random(in: 1.5...10, using: &random)
        let ellipse = random.chance(0.6)
        var pixels = [Bool](repeating: false, count: height * width)
        for y in 0..<height {
            for x in 0..<width {
                let (u, v) = ((Double(y) - cy) / ry, (Double(x) - cx) / rx)
                pixels[y * width + x] = ellipse ? u * u + v * v <= 1 : abs(u) <= 1 && abs(v) <= 1
            }
        }
        return pixels
    }

    /// `mask` moved by (dy, dx) with a fraction of its pixels flipped near its border.
    static func perturbed(_ mask: [Bool], _ random: inout SplitMix64) -> [Bool] {
        let (height, width) = maskSize
        let dy = Int.random(in: -2...2, using: &random), dx = Int.random(in: -2...2, using: &random)
        let flip = Double.random(in: 0...0.3, using: &random)
        var out = [Bool](repeating: false, count: height * width)
        for y in 0..<height {
            for x in 0..<width {
                let (sy, sx) = (y - dy, x - dx)
                var pixel = (0..<height).contains(sy) && (0..<width).contains(sx) && mask[sy * width + sx]
                let border = [(0, 1), (1, 0), (0, -1), (-1, 0)].contains { (oy, ox) in
                    let (ny, nx) = (y + oy, x + ox)
                    return (0..<height).contains(ny) && (0..<width).contains(nx) && mask[ny * width + nx] != mask[y * width + x]
                }
                if border && random.chance(flip) { pixel.toggle() }
                out[y * width + x] = pixel
            }
        }
        return out
    }

    static func maskCase(seed: UInt64) throws -> (predictions: [Metrics.Prediction<InstanceMask>], truths: [Metrics.GroundTruth<InstanceMask>],
                                                  predictionPixels: [[Bool]], truthPixels: [[Bool]]) {
        var random = SplitMix64(seed: seed)
        let (height, width) = maskSize
        var predictions: [(Int, Int, Double, [Bool])] = []
        var truths: [(Int, Int, [Bool])] = []
        for image in [1, 4, 6] {
            for classID in 1...3 {
                let count = classID == 3 ? 0 : Int.random(in: 0...4, using: &random)
                for _ in 0..<count {
                    let mask = randomMask(&random)
                    truths.append((image, classID, mask))
                    let copies = random.chance(0.15) ? 0 : (random.chance(0.2) ? 2 : 1)
                    for _ in 0..<copies { predictions.append((image, classID, score(&random), perturbed(mask, &random))) }
                }
                for _ in 0..<Int.random(in: 0...2, using: &random) {
                    predictions.append((image, classID, score(&random), randomMask(&random)))
                }
            }
        }
        predictions.append((4, 1, 0.55, [Bool](repeating: false, count: height * width)))  // an empty mask
        // A tie in IoU, as in boxCase: rectangles of columns 0…9 and 2…11 (ground truth), 1…10
        // and 0…9 (predictions), rows 0…9.
        func rectangle(_ columns: ClosedRange<Int>) -> [Bool] {
            (0..<(height * width)).map { i in i / width < 10 && columns.contains(i % width) }
        }
        truths += [(7, 2, rectangle(0...9)), (7, 2, rectangle(2...11))]
        predictions += [(7, 2, 0.9, rectangle(1...10)), (7, 2, 0.8, rectangle(0...9))]
        predictions.shuffle(using: &random)
        truths.shuffle(using: &random)
        return (
            try predictions.map { Metrics.Prediction(image: $0.0, classID: $0.1, score: $0.2,
                                                     region: try InstanceMask(height: height, width: width, pixels: $0.3)) },
            try truths.map { Metrics.GroundTruth(image: $0.0, classID: $0.1, region: try InstanceMask(height: height, width: width, pixels: $0.2)) },
            predictions.map(\.3), truths.map(\.2))
    }

    static func save(_ array: NumPyArray, _ path: String) throws {
        try array.write(to: URL(fileURLWithPath: path))
    }

    // MARK: Tests

    @Test("Boxes: AP per class and IoU threshold, mAP50 and mAP50-95 within 1e-6 of pycocotools", arguments: [
        (UInt64(1), 100), (2, 100), (3, 100), (4, 100), (5, 1), (6, 2),
    ])
    func boxes(seed: UInt64, maxDetections: Int) throws {
        let scratch = try Scratch()
        let (predictions, truths) = Self.boxCase(seed: seed)
        let predictionRows = predictions.flatMap {
            [Double($0.image), Double($0.classID), $0.score, $0.region.x1, $0.region.y1, $0.region.x2, $0.region.y2]
        }
        let truthRows = truths.flatMap { [Double($0.image), Double($0.classID), $0.region.x1, $0.region.y1, $0.region.x2, $0.region.y2] }
        try Self.save(try NumPyArray(shape: [predictions.count, 7], float64: predictionRows), scratch.path("p.npy"))
        try Self.save(try NumPyArray(shape: [truths.count, 6], float64: truthRows), scratch.path("g.npy"))
        let settings = Metrics.Settings(scoreThreshold: 0.45, maxDetections: maxDetections)
        let files = ["--predictions", scratch.path("p.npy"), "--ground-truth", scratch.path("g.npy"),
                     "--score-threshold", "0.45", "--max-detections", "\(maxDetections)"]
        let coco = try Self.reference(["boxes"] + files)
        let result = try Metrics.evaluate(predictions: predictions, groundTruth: truths, settings: settings)
        #expect(result.classes.map(\.classID) == [1, 2, 3, 4] && result[4]?.ap50 == nil)
        let difference = try Self.compare(result, coco, "boxes, seed \(seed)")
        print("boxes, seed \(seed), maxDetections \(maxDetections): \(predictions.count) predictions, \(truths.count) ground truths, "
              + "max |difference| from pycocotools \(difference)")

        // reg metrics on the same files gives the library's values.
        try Self.expectCommand("boxes", files, gives: result)
    }

    @Test("Instance masks: AP per class and IoU threshold, mAP50 and mAP50-95 within 1e-6 of pycocotools", arguments: [
        (UInt64(11), 100), (12, 100), (13, 100), (14, 1),
    ])
    func masks(seed: UInt64, maxDetections: Int) throws {
        let scratch = try Scratch()
        let (predictions, truths, predictionPixels, truthPixels) = try Self.maskCase(seed: seed)
        let (height, width) = Self.maskSize
        try Self.save(try NumPyArray(shape: [predictions.count, height, width], uint8: predictionPixels.flatMap { $0.map { $0 ? 1 : 0 } }),
                      scratch.path("pm.npy"))
        try Self.save(try NumPyArray(shape: [truths.count, height, width], bool: truthPixels.flatMap { $0 }), scratch.path("gm.npy"))
        try Self.save(try NumPyArray(shape: [predictions.count, 3],
                                     float64: predictions.flatMap { [Double($0.image), Double($0.classID), $0.score] }),
                      scratch.path("pmeta.npy"))
        try Self.save(try NumPyArray(shape: [truths.count, 2], int64: truths.flatMap { [Int64($0.image), Int64($0.classID)] }),
                      scratch.path("gmeta.npy"))
        let files = ["--predictions", scratch.path("pm.npy"), "--prediction-meta", scratch.path("pmeta.npy"),
                     "--ground-truth", scratch.path("gm.npy"), "--ground-truth-meta", scratch.path("gmeta.npy"),
                     "--max-detections", "\(maxDetections)"]
        let coco = try Self.reference(["masks"] + files)
        let result = try Metrics.evaluate(predictions: predictions, groundTruth: truths,
                                          settings: .init(maxDetections: maxDetections))
        #expect(result[3]?.ap50 == nil, "class 3 has predictions only")
        let difference = try Self.compare(result, coco, "masks, seed \(seed)")
        print("masks, seed \(seed), maxDetections \(maxDetections): \(predictions.count) predictions, \(truths.count) ground truths, "
              + "max |difference| from pycocotools \(difference)")

        try Self.expectCommand("masks", files, gives: result)
    }
}
