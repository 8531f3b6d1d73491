import Foundation
import REGDiagnostics
import Testing
@testable import REG

/// The step's vector scan for bad elements (ElementScan.swift) against `firstIndex(where:)` on the
/// same memory: float32 and float16, every position of a 16-element block, the range's own bounds,
/// NaN, ±∞, ±0, subnormals and the neighbours of each bound.
@Suite("Step: the host's vector scan for elements outside a range")
struct ElementScanTests {
    static let ranges: [ClosedRange<Float>] = [.finite, 0...1, 0...FocalLoss.maximumSigma, -0.3...0.7]

    /// Values to plant: outside or on the edge of some range, in float32 terms.
    static let specials: [Float] = [.nan, -Float.nan, .infinity, -.infinity, 0, -0.0, 1, Float(1).nextUp, Float(0).nextDown, -Float.leastNonzeroMagnitude,
                                    Float.leastNonzeroMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                    FocalLoss.maximumSigma, FocalLoss.maximumSigma.nextUp, 65504, 65520, -0.3, 0.7, Float(0.7).nextUp,
                                    (-0.3 as Float).nextDown]

    @Test("Same index as firstIndex(where:), float32 and float16, at every offset and length")
    func matchesScalar() {
        var random = SplitMix64(seed: 5)
        for length in [0, 1, 15, 16, 17, 31, 32, 33, 100, 1000] {
            for range in Self.ranges {
                // Inside values (the upper middle of the range: positive for every range but the
                // finite floats), then one special planted at each position in turn (and none).
                let inside = (0..<length).map { _ in
                    let u = Float(random.next() % 1000) / 1000
                    return range == .finite ? 2000 * u - 1000 : range.lowerBound + (range.upperBound - range.lowerBound) * (0.5 + 0.25 * u)
                }
                for special in Self.specials {
                    for position in [nil] + Array(0..<min(length, 40)) + (length > 40 ? [length - 1] : []) {
                        var values = inside
                        if let position { values[position] = special }
                        values.withUnsafeBufferPointer { p in
                            let want = p.firstIndex { !range.contains($0) }
                            #expect(p.firstIndex(outside: range) == want, "float32 \(range) \(special) at \(String(describing: position)) of \(length)")
                        }
                        let halves = values.map { Float16($0) }
                        halves.withUnsafeBufferPointer { p in
                            let want = p.firstIndex { !range.contains(Float($0)) }
                            #expect(FloatView.float16(p).firstIndex(outside: range) == want,
                                    "float16 \(range) \(special) at \(String(describing: position)) of \(length)")
                        }
                    }
                }
            }
        }
    }

    @Test("A step names the first bad element the scan finds, float32 and float16")
    func stepNamesElement() throws {
        let engine = try Engines.reference()
        var logits = [Float](repeating: 0.5, count: 3 * 37), targets = [Float](repeating: 0, count: 3 * 37)
        logits[2 * 37 + 20] = .infinity
        targets[1 * 37 + 5] = 1.5
        let points: [Float] = [0, 1, 1, 0, 2, 2, 0, 3, 3]
        var gradient = [Float](repeating: 0, count: logits.count)
        for half in [false, true] {
            let halfLogits = logits.map { Float16($0) }, halfTargets = targets.map { Float16($0) }
            let error = #expect(throws: InvalidArgument.self) {
                try logits.withUnsafeBufferPointer { l in
                    try targets.withUnsafeBufferPointer { t in
                        try halfLogits.withUnsafeBufferPointer { hl in
                            try halfTargets.withUnsafeBufferPointer { ht in
                                try points.withUnsafeBufferPointer { p in
                                    try gradient.withUnsafeMutableBufferPointer { g in
                                        var batch = StepBatch()
                                        batch.detection = StepBatch.Detection(
                                            logits: half ? .float16(hl) : .float32(l), targets: half ? .float16(ht) : .float32(t),
                                            points: p, boxes: UnsafeBufferPointer(start: nil, count: 0), samples: 3, classes: 37, images: 1)
                                        _ = try engine.step(batch, StepSettings(), into: StepGradients(detectionLogits: g))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            #expect(error?.argument == "det_logits" && error?.index == [2, 20], "half \(half): \(String(describing: error))")
        }
        logits[2 * 37 + 20] = 0.5
        let error = #expect(throws: InvalidArgument.self) {
            _ = try engine.step(StepArrays(detection: .init(logits: logits, targets: targets, points: points, boxes: [],
                                                            samples: 3, classes: 37, images: 1)))
        }
        #expect(error?.argument == "det_targets" && error?.index == [1, 5], "\(String(describing: error))")
    }
}
