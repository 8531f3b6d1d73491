import ArgumentParser
import Foundation
import REG

/// The README's main job: the paper's segmentation pipeline on a sample batch — per-class distance
/// maps, then the refined focal loss with class weights and uncertainty — on the chosen device and
/// on the CPU reference, with both results, both times and their largest difference.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run EDT → refined focal loss on a sample road-asset batch on the device and on the CPU reference.")

    /// The paper's segmentation classes (§2.2); channel k holds class k + 1.
    static let classNames = ["pavilion", "pedestrian bridge", "information sign", "warning sign", "concrete guardrail"]

    @OptionGroup var deviceOption: DeviceOption

    // `.unconditional`: `--size -1` is parsed and refused by validate(), not "Missing value".
    @Option(parsing: .unconditional, help: "Images in the batch (≥ 1).")
    var batch = 2

    @Option(parsing: .unconditional, help: "Height and width of each image in pixels (≥ 1).")
    var size = 256

    func validate() throws {
        try requireAtLeast(batch, 1, "--batch")
        try requireAtLeast(size, 1, "--size")
    }

    func run() throws {
        let classes = Self.classNames.count
        let engine = try deviceOption.engine()
        let reference = try Engine(device: .reference)
        let labels = Self.sampleLabels(batch: batch, size: size, classes: classes)
        let logits = Self.sampleLogits(labels, batch: batch, classes: classes, size: size)
        let counts = (1...classes).map { k in max(1, labels.lazy.filter { Int($0) == k }.count) }
        let alpha = try ClassWeights.alpha(counts: counts, .balanced)

        print("device: \(engine.backend)")
        print("batch: \(batch) × \(size)×\(size) pixels, \(classes) classes, \(labels.lazy.filter { $0 == 255 }.count) ignored pixels")
        for (k, name) in Self.classNames.enumerated() {
            print("  class \(k + 1) \(name): \(counts[k]) pixels, α = \(alpha[k]) (balanced)")
        }

        func distances(_ on: Engine) throws -> [Float] {
            try on.distanceTransform(labels: labels, batch: batch, height: size, width: size, classes: classes)
        }
        _ = try engine.distanceTransform(labels: Array(labels.prefix(size * size)), batch: 1, height: size, width: size,
                                         classes: classes) // warm-up: program build, first launch
        let (d, edtSeconds) = try timed { try distances(engine) }
        let (dRef, edtRefSeconds) = try timed { try distances(reference) }
        let edtDifference = zip(d, dRef).map { $0 == $1 ? 0 : abs($0 - $1) }.max() ?? 0
        print(String(format: "EDT: device %.2f ms, CPU reference %.2f ms, max |difference| %.3g px",
                     edtSeconds * 1e3, edtRefSeconds * 1e3, edtDifference))

        let settings = FocalLoss(alpha: alpha, gamma: 2, spatial: .distances(d, Refinement(beta: 0.5, delta: 8)),
                                 uncertainty: .scalar(0.05))
        func loss(_ on: Engine) throws -> FocalLossResult<Float> {
            try on.focalLoss(segmentation: logits, labels: labels, batch: batch, classes: classes, height: size,
                             width: size, settings)
        }
        _ = try loss(engine) // warm-up
        let (result, lossSeconds) = try timed { try loss(engine) }
        let (expected, lossRefSeconds) = try timed { try loss(reference) }
        let gradientDifference = zip(result.gradient, expected.gradient).map { abs($0 - $1) }.max() ?? 0
        print("refined focal loss (γ = 2, β = 0.5, δ = 8 px, σ = 0.05, mean over \(result.count) pixels):")
        print("  device \(result.loss) (∂L/∂σ \(result.scalarSigmaGradient ?? 0)), CPU reference \(expected.loss) (∂L/∂σ \(expected.scalarSigmaGradient ?? 0))")
        print(String(format: "  device %.2f ms, CPU reference %.2f ms, max |∂L/∂z difference| %.3g",
                     lossSeconds * 1e3, lossRefSeconds * 1e3, gradientDifference))
    }

    /// Disks of each class and a band of ignored pixels along the top, per image; deterministic.
    static func sampleLabels(batch: Int, size: Int, classes: Int) -> [UInt8] {
        var labels = [UInt8](repeating: 0, count: batch * size * size)
        var state: UInt64 = 0x5EED
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(max(bound, 1)))
        }
        for b in 0..<batch {
            for disk in 0..<(3 * classes) {
                let label = UInt8(disk % classes + 1)
                let radius = 1 + next(max(size / 10, 1))
                let cy = next(size), cx = next(size)
                for y in max(0, cy - radius)...min(size - 1, cy + radius) {
                    for x in max(0, cx - radius)...min(size - 1, cx + radius)
                    where (y - cy) * (y - cy) + (x - cx) * (x - cx) <= radius * radius {
                        labels[(b * size + y) * size + x] = label
                    }
                }
            }
            for x in 0..<size { labels[b * size * size + x] = 255 } // e.g. the ego vehicle's bonnet
        }
        return labels
    }

    /// A model's logits: +2 on the labelled class, −2 elsewhere, plus a smooth spatial wobble.
    static func sampleLogits(_ labels: [UInt8], batch: Int, classes: Int, size: Int) -> [Float] {
        var logits = [Float](repeating: 0, count: batch * classes * size * size)
        for b in 0..<batch {
            for c in 0..<classes {
                for p in 0..<(size * size) {
                    let y = p / size, x = p % size
                    let wobble = Float(sin(Double(x) * 0.07 + Double(c)) * cos(Double(y) * 0.05 + Double(b)))
                    logits[(b * classes + c) * size * size + p] = (Int(labels[b * size * size + p]) == c + 1 ? 2 : -2) + 1.5 * wobble
                }
            }
        }
        return logits
    }
}

func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let result = try body()
    return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}
