import Foundation
import Testing
@testable import REG

/// Every check of the step names the argument and the first bad index, before any kernel runs,
/// on the device and on the reference alike.
@Suite("Step: validation")
struct StepValidationTests {
    typealias Fixtures = StepFixtures

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let argument: String
        let index: [Int]?
        let fragment: String
        var settings = StepSettings()
        let mutate: @Sendable (inout StepArrays) -> Void

        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "logits and targets disagree", argument: "det_targets", index: nil, fragment: "has 2099 values") {
            $0.detection!.targets.removeLast()
        },
        Case(name: "points are not [N, 3]", argument: "det_points", index: nil, fragment: "[samples, 3]") {
            $0.detection!.points.removeLast()
        },
        Case(name: "boxes are not [M, 6]", argument: "det_boxes", index: nil, fragment: "[M, 6] rows") {
            $0.detection!.boxes.append(1)
        },
        Case(name: "σ map of the wrong size", argument: "seg_sigma", index: nil, fragment: "element count") {
            $0.segmentation!.sigma = [0.1]
        },
        Case(name: "seg labels of the wrong size", argument: "seg_labels", index: nil, fragment: "batch × height × width") {
            $0.segmentation!.labels.removeLast()
        },
        Case(name: "a label outside 0…C and 255", argument: "seg_labels", index: [1, 2, 3], fragment: "is 6; labels are 0") {
            $0.segmentation!.labels[1 * 24 * 24 + 2 * 24 + 3] = 6
        },
        Case(name: "a box class outside 1…C", argument: "det_boxes", index: [2, 1], fragment: "class 8.0 is not a class 1…7") {
            $0.detection!.boxes[2 * 6 + 1] = 8
        },
        Case(name: "a box with x2 < x1", argument: "det_boxes", index: [1, 4], fragment: "x2 = ") {
            $0.detection!.boxes[1 * 6 + 4] = $0.detection!.boxes[1 * 6 + 2] - 1
        },
        Case(name: "a box with y2 < y1", argument: "det_boxes", index: [0, 5], fragment: "y2 = ") {
            $0.detection!.boxes[5] = $0.detection!.boxes[3] - 0.5
        },
        Case(name: "a point in an image outside the batch", argument: "det_points", index: [4, 0],
             fragment: "image 3.0 is not an image of the batch (0..<3)") {
            $0.detection!.points[4 * 3] = 3
        },
        Case(name: "a non-finite point coordinate", argument: "det_points", index: [5, 2], fragment: "must be finite") {
            $0.detection!.points[5 * 3 + 2] = .infinity
        },
        Case(name: "a NaN detection logit", argument: "det_logits", index: [10, 3], fragment: "must be finite, got nan") {
            $0.detection!.logits[10 * 7 + 3] = .nan
        },
        Case(name: "an infinite segmentation logit", argument: "seg_logits", index: [2, 4, 0, 5], fragment: "must be finite") {
            $0.segmentation!.logits[((2 * 5 + 4) * 24 + 0) * 24 + 5] = -.infinity
        },
        Case(name: "a target above 1", argument: "det_targets", index: [7, 0], fragment: "must be in [0, 1], got 1.5") {
            $0.detection!.targets[7 * 7] = 1.5
        },
        Case(name: "negative γ", argument: "det_gamma", index: nil, fragment: "≥ 0, got -1.0",
             settings: StepSettings(detection: TaskSettings(gamma: -1))) { _ in },
        Case(name: "negative σ", argument: "seg_sigma", index: nil, fragment: "got -0.1",
             settings: StepSettings(segmentation: TaskSettings(sigma: -0.1))) { _ in },
        Case(name: "α count ≠ C", argument: "det_alpha", index: nil, fragment: "has 3 values; expected one per class (7)",
             settings: StepSettings(detection: TaskSettings(alpha: [1, 2, 3]))) { _ in },
        Case(name: "a non-finite λ", argument: "lambda", index: nil, fragment: "must be finite",
             settings: StepSettings(lambda: .nan)) { _ in },
        Case(name: "softmax for detection", argument: "det_activation", index: nil, fragment: "multi-label",
             settings: StepSettings(detection: TaskSettings(activation: .softmax))) { _ in },
        Case(name: "a given M of 0", argument: "seg_normalizer", index: nil, fragment: "finite and > 0",
             settings: StepSettings(segmentation: TaskSettings(normalizer: .given(0)))) { _ in },
    ]

    @Test("Each bad input is refused with its argument, index and reason, on the device and the reference",
          arguments: cases)
    func refused(_ bad: Case) throws {
        var arrays = Fixtures.batch(seed: 31)
        bad.mutate(&arrays)
        for engine in [try Engines.device(), try Engines.reference()] {
            let error = try #require(throws: InvalidArgument.self) { _ = try engine.step(arrays, bad.settings) }
            #expect(error.argument == bad.argument && error.index == bad.index, "\(error)")
            #expect(error.reason.contains(bad.fragment), "\(error)")
        }
    }

    @Test("With the scan off, the kernels flag a NaN logit and the host still names it")
    func scanOff() throws {
        var arrays = Fixtures.batch(seed: 32)
        arrays.segmentation!.logits[100] = .nan
        arrays.detection!.logits[50] = .nan
        let settings = StepSettings(validatesElements: false)
        let error = try #require(throws: InvalidArgument.self) { _ = try Engines.device().step(arrays, settings) }
        #expect(error.argument == "det_logits" && error.index == [7, 1], "\(error)")
        arrays.detection = nil
        let seg = try #require(throws: InvalidArgument.self) { _ = try Engines.device().step(arrays, settings) }
        #expect(seg.argument == "seg_logits" && seg.index == [0, 0, 4, 4], "\(seg)")
    }

    @Test("A gradient buffer of the wrong size is refused before anything runs")
    func gradientBuffers() throws {
        let arrays = Fixtures.batch(seed: 33)
        var small = [Float](repeating: 0, count: 10)
        let error = try arrays.withBatch { batch in
            try small.withUnsafeMutableBufferPointer { buffer in
                try #require(throws: InvalidArgument.self) {
                    _ = try Engines.device().step(batch, StepSettings(), into: StepGradients(detectionLogits: buffer))
                }
            }
        }
        #expect(error.argument == "det_logits_grad" && error.reason.contains("holds 10 values"), "\(error)")
    }
}
