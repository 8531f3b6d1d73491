import Foundation
import Testing
import REG
@testable import REGDiagnostics
import REGNumPy

/// `reg loss`, `reg edt` and `reg box-distance` end to end through .npy files: the device's files
/// against the float64 reference's values, and bad input named by file and element.
@Suite("Command line: loss, edt, box-distance")
struct CommandLineOperationTests {
    typealias Scratch = CommandLineArrayTests.Scratch

    static func save(_ array: NumPyArray, _ path: String) throws {
        try array.write(to: URL(fileURLWithPath: path))
    }

    static func load(_ path: String) throws -> NumPyArray {
        try NumPyArray(contentsOf: URL(fileURLWithPath: path))
    }

    @Test("reg loss, detection: printed loss and written gradient match the reference", arguments: ["0", "cpu"])
    func lossDetection(device: String) throws {
        let scratch = try Scratch()
        var random = SplitMix64(seed: 71)
        let (samples, classes) = (13, 3)
        let logits = random.floats(samples * classes, in: -6...6)
        let targets = (0..<logits.count).map { _ in Float.random(in: 0...1, using: &random) < 0.3 ? Float(1) : 0 }
        try Self.save(try NumPyArray(shape: [samples, classes], float32: logits), scratch.path("z.npy"))
        try Self.save(try NumPyArray(shape: [samples, classes], float32: targets), scratch.path("t.npy"))
        let outcome = try CommandLineTool.run([
            "loss", "--logits", scratch.path("z.npy"), "--targets", scratch.path("t.npy"), "--gamma", "1.5",
            "--counts", "200,50,750", "--weighting", "inverse", "--sigma", "0.05", "--json",
            "--grad-out", scratch.path("g.npy"), "--device", device,
        ])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])

        let alpha = try ClassWeights.alpha(counts: [200, 50, 750], .inverseFrequency)
        #expect(alpha == [5, 20, 1 + 1.0 / 3])
        let settings = FocalLoss(alpha: alpha, gamma: 1.5, uncertainty: .scalar(0.05))
        let expected = try FocalLossReference.focalLoss(detection: logits, targets: targets, samples: samples,
                                                        classes: classes, settings)
        let loss = try #require(summary["loss"] as? Double)
        #expect(abs(loss - expected.loss) <= 1e-5 * abs(expected.loss))
        #expect(summary["count"] as? Int == samples)
        let sigmaGradient = try #require(summary["sigmaGradient"] as? Double)
        #expect(abs(sigmaGradient - expected.scalarSigmaGradient!) <= 1e-5 * max(1, abs(expected.scalarSigmaGradient!)))
        let gradient = try Self.load(scratch.path("g.npy"))
        #expect(gradient.shape == [samples, classes] && gradient.dtype == .float32)
        let scale = max(1, expected.gradient.map(abs).max()!)
        #expect(Tolerance.maxAbsoluteError(try gradient.floats(), expected.gradient).error <= 1e-5 * scale)
    }

    @Test("reg loss, segmentation with softmax, distances and reduction none writes every output")
    func lossSegmentation() throws {
        let scratch = try Scratch()
        var random = SplitMix64(seed: 72)
        let (batch, classes, height, width) = (2, 3, 5, 7)
        let count = batch * classes * height * width
        let logits = random.floats(count, in: -5...5)
        let distances = random.floats(count, in: 0...20)
        var labels = (0..<(batch * height * width)).map { _ in Int32.random(in: 0...3, using: &random) }
        labels[4] = 255
        try Self.save(try NumPyArray(shape: [batch, classes, height, width], float32: logits), scratch.path("z.npy"))
        try Self.save(try NumPyArray(shape: [batch, classes, height, width], float32: distances), scratch.path("d.npy"))
        try Self.save(try NumPyArray(shape: [batch, height, width], int64: labels.map(Int64.init)), scratch.path("l.npy"))
        let outcome = try CommandLineTool.run([
            "loss", "--logits", scratch.path("z.npy"), "--labels", scratch.path("l.npy"), "--activation", "softmax",
            "--distances", scratch.path("d.npy"), "--beta", "-0.5", "--delta", "4", "--reduction", "none",
            "--grad-out", scratch.path("g.npy"), "--loss-out", scratch.path("loss.npy"), "--device", "0",
        ])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput.contains("count: \(batch * height * width - 1)"))
        let settings = FocalLoss(activation: .softmax, spatial: .distances(distances, Refinement(beta: -0.5, delta: 4)),
                                 reduction: .none)
        let expected = try FocalLossReference.focalLoss(segmentation: logits, labels: labels, batch: batch,
                                                        classes: classes, height: height, width: width, settings)
        let elementLoss = try Self.load(scratch.path("loss.npy"))
        #expect(elementLoss.shape == [batch, classes, height, width])
        let lossScale = max(1, expected.elementLoss!.map(abs).max()!)
        #expect(Tolerance.maxAbsoluteError(try elementLoss.floats(), expected.elementLoss!).error <= 1e-5 * lossScale)
        let gradientScale = max(1, expected.gradient.map(abs).max()!)
        #expect(Tolerance.maxAbsoluteError(try Self.load(scratch.path("g.npy")).floats(), expected.gradient).error
                    <= 1e-5 * gradientScale)
    }

    @Test("reg loss: bad input names the file and the element, or the option")
    func lossErrors() throws {
        let scratch = try Scratch()
        try Self.save(try NumPyArray(shape: [2, 2], float32: [0, 1, 2, 3]), scratch.path("z.npy"))
        try Self.save(try NumPyArray(shape: [2, 2], float32: [0, 1, 1.5, 0]), scratch.path("t.npy"))
        try Self.save(try NumPyArray(shape: [3, 2], float32: [0, 1, 1, 0, 0, 0]), scratch.path("t3.npy"))
        let cases: [([String], Int32, String)] = [
            (["--targets", scratch.path("t.npy")], 1, "t.npy[1, 0]: must be in [0, 1], got 1.5"),
            (["--targets", scratch.path("t3.npy")], 1, "does not match the logits' [2, 2]"),
            (["--targets", scratch.path("t3.npy"), "--labels", scratch.path("t.npy")], 64, "exactly one of --targets"),
            (["--targets", scratch.path("t3.npy"), "--beta", "1"], 64, "give --distances too"),
            (["--targets", scratch.path("t3.npy"), "--alpha", "1,x"], 64, "--alpha: entry 1 'x' is not a number"),
            (["--targets", scratch.path("t3.npy"), "--counts", "3,0"], 64, "--counts[1]"),
        ]
        for (arguments, status, message) in cases {
            let outcome = try CommandLineTool.run(["loss", "--logits", scratch.path("z.npy"), "--device", "cpu"] + arguments)
            #expect(outcome.status == status, "\(arguments): \(outcome.standardError)")
            #expect(outcome.standardError.contains(message), "\(arguments): \(outcome.standardError)")
        }
    }

    @Test("reg edt: (H, W) and (B, H, W) maps, spacing and squared output, device files equal the reference")
    func edt() throws {
        let scratch = try Scratch()
        var random = SplitMix64(seed: 73)
        let (batch, height, width) = (2, 9, 11)
        var labels = (0..<(batch * height * width)).map { _ in UInt8.random(in: 0...12, using: &random) }
        labels = labels.map { $0 > 3 ? ($0 == 12 ? 255 : 0) : $0 }
        labels[0] = 3 // so that class 3 is the largest, whatever the draw
        try Self.save(try NumPyArray(shape: [batch, height, width], uint8: labels), scratch.path("l.npy"))
        try Self.save(try NumPyArray(shape: [height, width], uint8: Array(labels.prefix(height * width))), scratch.path("l2.npy"))
        for device in ["0", "cpu"] {
            let outcome = try CommandLineTool.run(["edt", scratch.path("l.npy"), "-o", scratch.path("e-\(device).npy"),
                                                   "--spacing", "1,2.5", "--squared", "--device", device])
            #expect(outcome.status == 0, "\(outcome.standardError)")
        }
        let expected = try DistanceTransformReference.squaredDistances(labels: labels, batch: batch, height: height,
                                                                       width: width, classes: 3,
                                                                       spacing: PixelSpacing(y: 1, x: 2.5))
        for device in ["0", "cpu"] {
            let maps = try Self.load(scratch.path("e-\(device).npy"))
            #expect(maps.shape == [batch, 3, height, width])
            #expect(try maps.floats() == expected.map(Float.init), "device \(device)")
        }
        let single = try CommandLineTool.run(["edt", scratch.path("l2.npy"), "-o", scratch.path("e2.npy"), "--classes", "4"])
        #expect(single.status == 0, "\(single.standardError)")
        let maps = try Self.load(scratch.path("e2.npy"))
        #expect(maps.shape == [4, height, width])
        #expect(try maps.floats().suffix(height * width).allSatisfy { $0 == .infinity }, "class 4 is absent: +inf")

        try Self.save(try NumPyArray(shape: [2, 2], int32: [0, 1, 300, 2]), scratch.path("bad.npy"))
        let bad = try CommandLineTool.run(["edt", scratch.path("bad.npy"), "-o", scratch.path("x.npy"), "--classes", "2"])
        #expect(bad.status == 1 && bad.standardError.contains("bad.npy[1, 0]"), "\(bad.standardError)")
    }

    @Test("reg box-distance: device file equals the reference; bad rows are named")
    func boxDistance() throws {
        let scratch = try Scratch()
        let points: [Double] = [0, 5, 5, 0, -3, 2, 1, 0, 0, 0, 25, 40]
        let boxes: [Double] = [0, 1, 0, 0, 10, 10, 0, 2, 20, 20, 30, 30, 0, 1, 12, 0, 14, 3]
        try Self.save(try NumPyArray(shape: [4, 3], float64: points), scratch.path("p.npy"))
        try Self.save(try NumPyArray(shape: [3, 6], float64: boxes), scratch.path("b.npy"))
        let outcome = try CommandLineTool.run(["box-distance", "--points", scratch.path("p.npy"), "--boxes", scratch.path("b.npy"),
                                               "--classes", "3", "-o", scratch.path("d.npy"), "--device", "0"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let distances = try Self.load(scratch.path("d.npy"))
        #expect(distances.shape == [4, 3])
        let inf = Float.infinity
        // Written out: inside box 0; 3 px left of box 0; image 1 has no boxes; (25, 40) is 10 below box 1
        // and nearer box 0 (15, 30 away) than box 2 (11, 37 away).
        let expected: [Float] = [0, (15 * 15 * 2 as Float).squareRoot(), inf,
                                 3, (23 * 23 + 18 * 18 as Float).squareRoot(), inf,
                                 inf, inf, inf,
                                 (15 * 15 + 30 * 30 as Float).squareRoot(), 10, inf]
        let values = try distances.floats()
        for i in expected.indices {
            #expect(values[i] == expected[i] || abs(values[i] - expected[i]) <= 2 * expected[i].ulp, "element \(i)")
        }

        try Self.save(try NumPyArray(shape: [1, 6], float64: [0, 4, 0, 0, 1, 1]), scratch.path("bad.npy"))
        let bad = try CommandLineTool.run(["box-distance", "--points", scratch.path("p.npy"), "--boxes", scratch.path("bad.npy"),
                                           "--classes", "3", "-o", scratch.path("x.npy")])
        #expect(bad.status == 1 && bad.standardError.contains("bad.npy[0]"), "\(bad.standardError)")
    }
}
