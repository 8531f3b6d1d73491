// A complete training loop over REG's step (docs/usage.md, "The training loop").
//
// A toy linear model — detection logits W·f per anchor, segmentation logits V·f per pixel — is
// trained with SGD on synthetic data fixed by a seed: boxes of the paper's seven road-asset classes
// on four images, label maps of five classes. Each step computes the logits into memory the model
// owns, calls `engine.step` once on views of that memory (L_total = L_det + λ·L_seg, distances and
// refinement inside), gets ∂L_total/∂logits written into the model's gradient buffers, carries them
// through the linear layers by the chain rule, and updates W and V.
//
//     reg-training-loop-example [--device auto|reference|INDEX|NAME] [--steps N]
//
// Without --device, REG_DEVICE or auto chooses (docs/usage.md, "Choosing the device"). Prints the
// loss every 10 steps and which backend computed it; exits 1 if the loss did not fall.

import Foundation
import REG

// MARK: Memory the caller owns

/// An array in memory the model owns, as a framework's tensor would be: the step reads and writes
/// it through views, with no copy.
final class Tensor<Element: BitwiseCopyable> {
    let storage: UnsafeMutableBufferPointer<Element>

    init(_ values: [Element]) {
        storage = .allocate(capacity: values.count)
        _ = storage.initialize(from: values)
    }

    deinit { storage.deallocate() }

    var view: UnsafeBufferPointer<Element> { UnsafeBufferPointer(storage) }
    var count: Int { storage.count }

    subscript(i: Int) -> Element {
        get { storage[i] }
        set { storage[i] = newValue }
    }

    static func zeros(_ count: Int) -> Tensor<Float> { Tensor<Float>([Float](repeating: 0, count: count)) }
}

// MARK: Synthetic data

/// SplitMix64: a fixed seed gives the same data on every machine.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal draw (Box–Muller).
    mutating func normal() -> Float {
        let u = Float.random(in: Float.ulpOfOne..<1, using: &self), v = Float.random(in: 0..<1, using: &self)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

/// One batch for both tasks, with the features a backbone would give: each anchor's or pixel's
/// feature vector is the sum of random class directions of what lies there, plus noise, and a
/// constant 1 (the bias input).
struct SyntheticBatch {
    static let features = 12                              // D
    static let detClasses = 7, images = 4, side = 64, stride = 8
    static let samples = images * (side / stride) * (side / stride)
    static let segClasses = 5, segBatch = 3, segSide = 32
    static let pixels = segBatch * segSide * segSide

    /// Detection: anchors `[N, 3]` (image, x, y) on an 8-pixel grid, boxes `[M, 6]`
    /// (image, class 1…7, x1, y1, x2, y2), targets `[N, 7]` (1 where the anchor lies in a box of
    /// the class), features `[N, D]`.
    let points: Tensor<Float>, boxes: Tensor<Float>, targets: Tensor<Float>, detFeatures: [Float]
    /// Segmentation: labels `[B, H, W]` (0 background, rectangles of classes 1…5, 2% of pixels
    /// ignored as 255), features `[B·H·W, D]`.
    let labels: Tensor<UInt8>, segFeatures: [Float]

    init(seed: UInt64) {
        let d = Self.features
        var random = SplitMix64(state: seed)
        func directions(_ count: Int) -> [[Float]] {
            (0..<count).map { _ in (0..<d).map { $0 == 0 ? 0 : random.normal() } }
        }
        func feature(_ parts: [[Float]]) -> [Float] {
            (0..<d).map { j in j == 0 ? 1 : parts.reduce(0) { $0 + $1[j] } + 0.5 * random.normal() }
        }

        let detDirection = directions(Self.detClasses)
        var boxes: [Float] = []
        for image in 0..<Self.images {
            for _ in 0..<3 {
                let w = Float.random(in: 12...28, using: &random), h = Float.random(in: 12...28, using: &random)
                let x1 = Float.random(in: 0...(Float(Self.side) - w), using: &random)
                let y1 = Float.random(in: 0...(Float(Self.side) - h), using: &random)
                boxes += [Float(image), Float(Int.random(in: 1...Self.detClasses, using: &random)), x1, y1, x1 + w, y1 + h]
            }
        }
        var points: [Float] = [], targets = [Float](repeating: 0, count: Self.samples * Self.detClasses)
        var detFeatures: [Float] = []
        for image in 0..<Self.images {
            for row in 0..<(Self.side / Self.stride) {
                for column in 0..<(Self.side / Self.stride) {
                    let n = points.count / 3
                    let x = Float(column * Self.stride + Self.stride / 2), y = Float(row * Self.stride + Self.stride / 2)
                    points += [Float(image), x, y]
                    var inside: [[Float]] = []
                    for b in Swift.stride(from: 0, to: boxes.count, by: 6) where Int(boxes[b]) == image
                        && x >= boxes[b + 2] && x <= boxes[b + 4] && y >= boxes[b + 3] && y <= boxes[b + 5] {
                        let c = Int(boxes[b + 1]) - 1
                        targets[n * Self.detClasses + c] = 1
                        inside.append(detDirection[c])
                    }
                    detFeatures += feature(inside)
                }
            }
        }

        let segDirection = directions(Self.segClasses + 1) // [0]: background
        let side = Self.segSide
        var labels = [UInt8](repeating: 0, count: Self.pixels)
        for b in 0..<Self.segBatch {
            for k in 1...Self.segClasses {
                let w = Int.random(in: 5...12, using: &random), h = Int.random(in: 5...12, using: &random)
                let x0 = Int.random(in: 0...(side - w), using: &random), y0 = Int.random(in: 0...(side - h), using: &random)
                for y in y0..<(y0 + h) { for x in x0..<(x0 + w) { labels[(b * side + y) * side + x] = UInt8(k) } }
            }
        }
        var segFeatures: [Float] = []
        for p in 0..<Self.pixels {
            segFeatures += feature([segDirection[Int(labels[p])]])
            if random.next() % 50 == 0 { labels[p] = 255 }
        }

        self.points = Tensor(points)
        self.boxes = Tensor(boxes)
        self.targets = Tensor(targets)
        self.detFeatures = detFeatures
        self.labels = Tensor(labels)
        self.segFeatures = segFeatures
    }
}

// MARK: The model

/// A linear head: logits[row, c] = Σ_j weights[c, j] · f[row, j], written where `offset(row, c)`
/// says (row-major `[N, C]` for detection, NCHW for segmentation).
struct LinearHead {
    let classes: Int
    let features = SyntheticBatch.features
    let weights: Tensor<Float>
    let offset: @Sendable (Int, Int) -> Int

    init(classes: Int, offset: @escaping @Sendable (Int, Int) -> Int) {
        self.classes = classes
        self.offset = offset
        weights = Tensor<Float>.zeros(classes * SyntheticBatch.features)
    }

    func forward(_ f: [Float], rows: Int, into logits: Tensor<Float>) {
        for row in 0..<rows {
            for c in 0..<classes {
                var z: Float = 0
                for j in 0..<features { z += weights[c * features + j] * f[row * features + j] }
                logits[offset(row, c)] = z
            }
        }
    }

    /// SGD with the chain rule through the layer: ∂L/∂weights[c, j] = Σ_row ∂L/∂logits[row, c] · f[row, j].
    func update(_ f: [Float], rows: Int, gradient: Tensor<Float>, learningRate: Float) {
        var step = [Float](repeating: 0, count: classes * features)
        for row in 0..<rows {
            for c in 0..<classes {
                let g = gradient[offset(row, c)]
                if g == 0 { continue }
                for j in 0..<features { step[c * features + j] += g * f[row * features + j] }
            }
        }
        for i in step.indices { weights[i] -= learningRate * step[i] }
    }
}

// MARK: Command line

func usageError(_ message: String) -> Never {
    FileHandle.standardError.write(Data("reg-training-loop-example: \(message)\n".utf8))
    exit(64)
}

var deviceRequest: DeviceRequest? = nil // nil: REG_DEVICE, else auto
var steps = 60
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--device":
        guard let value = arguments.popFirst() else { usageError("--device needs a value") }
        deviceRequest = DeviceRequest(parsing: value)
    case "--steps":
        guard let value = arguments.popFirst(), let n = Int(value), n >= 1 else { usageError("--steps needs a whole number ≥ 1") }
        steps = n
    case "-h", "--help":
        print("usage: reg-training-loop-example [--device auto|reference|INDEX|NAME] [--steps N]")
        exit(0)
    default:
        usageError("unknown argument '\(argument)'")
    }
}

// MARK: The training loop

let data = SyntheticBatch(seed: 2026)
let n = SyntheticBatch.samples, detClasses = SyntheticBatch.detClasses
let b = SyntheticBatch.segBatch, segClasses = SyntheticBatch.segClasses, side = SyntheticBatch.segSide, plane = side * side

let detection = LinearHead(classes: detClasses) { row, c in row * detClasses + c }                    // [N, C]
let segmentation = LinearHead(classes: segClasses) { p, k in ((p / plane) * segClasses + k) * plane + p % plane } // NCHW
let detLogits = Tensor<Float>.zeros(n * detClasses), detGradient = Tensor<Float>.zeros(n * detClasses)
let segLogits = Tensor<Float>.zeros(b * segClasses * plane), segGradient = Tensor<Float>.zeros(b * segClasses * plane)

let paperCounts = [200, 100, 700, 1500, 50, 800, 300] // the paper's detection annotations (A.7)
var settings = StepSettings(lambda: 1)
settings.detection = TaskSettings(alpha: try ClassWeights.alpha(counts: paperCounts, .inverseFrequency), gamma: 2,
                                  refinement: Refinement(beta: 0.5, delta: 8))
settings.segmentation = TaskSettings(gamma: 2, refinement: Refinement(beta: 0.5, delta: 4))
let learningRate: Float = 0.05

let engine = try Engine(device: deviceRequest) // nil: REG_DEVICE, else auto
print("REG training loop: \(n) anchors × \(detClasses) classes on \(SyntheticBatch.images) images, \(b) label maps of \(side)×\(side) × \(segClasses) classes")
print("α (inverse frequency of \(paperCounts.map(String.init).joined(separator: ","))): "
      + settings.detection.alpha!.map { String(format: "%.2f", $0) }.joined(separator: " "))
print("engine: \(engine.backend) (asked for \(deviceRequest?.description ?? "REG_DEVICE or auto"))")

var first: Double? = nil, last = 0.0
let clock = ContinuousClock(), start = clock.now
for step in 0..<steps {
    detection.forward(data.detFeatures, rows: n, into: detLogits)
    segmentation.forward(data.segFeatures, rows: SyntheticBatch.pixels, into: segLogits)

    let batch = StepBatch(
        detection: .init(logits: detLogits.view, targets: data.targets.view, points: data.points.view,
                         boxes: data.boxes.view, samples: n, classes: detClasses, images: SyntheticBatch.images),
        segmentation: .init(logits: segLogits.view, labels: data.labels.view, batch: b, classes: segClasses,
                            height: side, width: side))
    let result = try engine.step(batch, settings, into: StepGradients(detectionLogits: detGradient.storage,
                                                                      segmentationLogits: segGradient.storage))

    detection.update(data.detFeatures, rows: n, gradient: detGradient, learningRate: learningRate)
    segmentation.update(data.segFeatures, rows: SyntheticBatch.pixels, gradient: segGradient, learningRate: learningRate)

    if first == nil { first = result.total }
    last = result.total
    if step % 10 == 0 || step == steps - 1, let det = result.detection, let seg = result.segmentation {
        print(String(format: "step %3d  loss %.5f  (det %.5f over %d anchors, seg %.5f over %d pixels)",
                     step, result.total, det.loss, det.count, seg.loss, seg.count) + "  computed by \(result.backend)")
    }
}
let elapsed = (clock.now - start).components
let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
guard let first, last < first else {
    print(String(format: "loss did not fall: %.5f to %.5f in %d steps", first ?? 0, last, steps))
    exit(1)
}
print(String(format: "loss fell from %.5f to %.5f (%.1f%% lower) in %d steps, %.2f s", first, last,
             100 * (1 - last / first), steps, seconds))
