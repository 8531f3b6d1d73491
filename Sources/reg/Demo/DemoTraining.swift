import Foundation
import REG
import REGDiagnostics

/// The training run of `reg demo`: batches of synthetic road scenes, the model's logits, one
/// REG step per batch on the chosen engine (timed, and timed again on the reference for every
/// fifth step's same batch), and the model's update from the step's gradients.
struct DemoTraining {
    struct Options {
        var steps = 150
        var batch = 8
        var side = 96
        var seed: UInt64 = 1
        var learningRate: Float = 0.05
        /// The refinement of both tasks; nil for plain focal loss.
        var refinement: Refinement? = Refinement(beta: 0.5, delta: 8)
        /// Time the reference on every `referenceEvery`-th step's batch (0: never).
        var referenceEvery = 5
    }

    struct Record {
        let step: Int
        let total: Double
        let detection: Double
        let segmentation: Double
    }

    let options: Options
    let scenes: RoadScenes
    var model = DemoModel()
    private(set) var records: [Record] = []
    /// Step seconds on the engine, and on the reference, for the steps timed on both.
    private(set) var engineSeconds: [Double] = []
    private(set) var referenceSeconds: [Double] = []
    /// Seconds spent in the model's forward and backward passes (host).
    private(set) var modelSeconds = 0.0
    private(set) var backend: Engine.Backend = .reference

    init(_ options: Options) {
        self.options = options
        scenes = RoadScenes(side: options.side)
    }

    /// The loss settings: class weights from the paper's counts (α = N_total / N_c), γ = 2, the
    /// refinement (default β = 0.5, δ = 8 px) unless off, σ = 0.05, the positives normaliser for
    /// the sparse detection targets, the samples normaliser for segmentation, λ = 1.
    var settings: StepSettings {
        let refinement = options.refinement
        let detectionAlpha = try! ClassWeights.alpha(counts: RoadScenes.detectionCounts, .inverseFrequency)
        let segmentationAlpha = try! ClassWeights.alpha(counts: RoadScenes.segmentationCounts, .inverseFrequency)
        return StepSettings(
            detection: TaskSettings(alpha: detectionAlpha, gamma: 2, refinement: refinement, sigma: 0.05,
                                    normalizer: .positives),
            segmentation: TaskSettings(alpha: segmentationAlpha, gamma: 2, refinement: refinement, sigma: 0.05),
            lambda: 1)
    }

    /// A batch's inputs and logits under the current model.
    func batch(_ scenes: [RoadScenes.Scene]) -> (arrays: StepArrays, pixels: [Float], cells: [Float]) {
        let side = options.side, plane = side * side, n = scenes.count
        let pixels = DemoModel.pixelFeatures(scenes, side: side)
        let cells = DemoModel.cellFeatures(scenes, side: side)
        let segClasses = RoadScenes.segmentationClasses.count, detClasses = RoadScenes.detectionClasses.count
        var segLogits = [Float](repeating: 0, count: n * segClasses * plane)
        model.segmentation.forward(pixels, rows: n * plane, into: &segLogits) { i, k in
            (i / plane * segClasses + k) * plane + i % plane
        }
        let samples = n * self.scenes.cells
        var detLogits = [Float](repeating: 0, count: samples * detClasses)
        model.detection.forward(cells, rows: samples, into: &detLogits) { i, k in i * detClasses + k }
        let (targets, points, boxes) = self.scenes.detection(scenes)
        let arrays = StepArrays(
            detection: .init(logits: detLogits, targets: targets, points: points, boxes: boxes, samples: samples,
                             classes: detClasses, images: n),
            segmentation: .init(logits: segLogits, labels: scenes.flatMap(\.labels), batch: n, classes: segClasses,
                                height: side, width: side))
        return (arrays, pixels, cells)
    }

    /// Runs every step; `progress` is told after each.
    mutating func run(on engine: Engine, reference: Engine, progress: (Int, Record) -> Void) throws {
        var random = SplitMix64(seed: options.seed)
        let plane = options.side * options.side
        let segClasses = RoadScenes.segmentationClasses.count, detClasses = RoadScenes.detectionClasses.count
        for step in 1...options.steps {
            let scenes = (0..<options.batch).map { _ in self.scenes.scene(&random) }
            var start = Date()
            let (arrays, pixels, cells) = batch(scenes)
            modelSeconds += Date().timeIntervalSince(start)
            start = Date()
            let output = try engine.step(arrays, settings)
            let seconds = Date().timeIntervalSince(start)
            backend = output.result.backend
            if options.referenceEvery > 0 && step % options.referenceEvery == 0 {
                start = Date()
                _ = try reference.step(arrays, settings)
                referenceSeconds.append(Date().timeIntervalSince(start))
                engineSeconds.append(seconds)
            }
            start = Date()
            model.segmentation.backward(pixels, rows: options.batch * plane, gradient: output.segmentationGradient,
                                        index: { i, k in (i / plane * segClasses + k) * plane + i % plane },
                                        learningRate: options.learningRate)
            model.detection.backward(cells, rows: options.batch * self.scenes.cells, gradient: output.detectionGradient,
                                     index: { i, k in i * detClasses + k }, learningRate: options.learningRate)
            modelSeconds += Date().timeIntervalSince(start)
            let record = Record(step: step, total: output.result.total, detection: output.result.detection?.loss ?? 0,
                                segmentation: output.result.segmentation?.loss ?? 0)
            records.append(record)
            progress(step, record)
        }
    }
}
