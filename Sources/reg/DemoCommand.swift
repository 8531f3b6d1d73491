import ArgumentParser
import Foundation
import REG
import REGDiagnostics
import REGRuntime

/// The README's main job: train a small detector and segmenter on synthetic road scenes with the
/// REG step (class weights from the paper's counts, distance maps and refinement every step,
/// uncertainty, λ), then evaluate them on held-out scenes. See docs/demo.md.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train a small detector and segmenter on synthetic road scenes with the REG step, then evaluate them.",
        discussion: """
            Scenes hold the paper's 7 detection and 5 segmentation classes at the frequencies of its \
            annotation counts. Every step runs the whole REG step (distances, refinement, focal loss, \
            both tasks) on the chosen device; every fifth step's batch is timed on the CPU reference too. \
            Prints the loss per epoch, the time per step on both, and the metrics before and after \
            training. --out DIR writes loss.svg and PNG pictures of a scene.
            """)

    @OptionGroup var deviceOption: DeviceOption

    @Option(parsing: .unconditional, help: "Training steps (≥ 1).")
    var steps = 150

    @Option(help: "Seed of the scenes (training and held-out).")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: "Scenes per batch (≥ 1).")
    var batch = 8

    @Option(parsing: .unconditional, help: "Side of a scene in pixels (a multiple of 16, 16…1024).")
    var size = 96

    @Option(name: .customLong("learning-rate"), parsing: .unconditional, help: "Adam's learning rate (> 0).")
    var learningRate: Float = 0.05

    @Option(name: .customLong("eval-scenes"), parsing: .unconditional, help: "Held-out scenes to evaluate on (≥ 1).")
    var evaluationScenes = 128

    @Flag(name: .customLong("no-refinement"), help: "Plain focal loss (g ≡ 1), for comparison.")
    var noRefinement = false

    @Option(parsing: .unconditional, help: "Refinement sharpness β (either sign; docs/math.md §2).")
    var beta: Float = 0.5

    @Option(parsing: .unconditional, help: "Refinement threshold δ in pixels.")
    var delta: Float = 8

    @Option(help: ArgumentHelp("Write loss.svg and PNG pictures (scene, labels, a distance map, its refinement weights, the prediction) here.", valueName: "dir"))
    var out: String?

    func validate() throws {
        try requireAtLeast(steps, 1, "--steps")
        try requireAtLeast(batch, 1, "--batch")
        try requireAtLeast(evaluationScenes, 1, "--eval-scenes")
        guard (16...1024).contains(size) && size % RoadScenes.cell == 0 else {
            throw ValidationError("--size: must be a multiple of \(RoadScenes.cell) in 16…1024, got \(size)")
        }
        guard beta.isFinite && delta.isFinite else { throw ValidationError("--beta, --delta: must be finite") }
        guard learningRate.isFinite && learningRate > 0 else {
            throw ValidationError("--learning-rate: must be finite and > 0, got \(learningRate)")
        }
    }

    func run() throws {
        try requireHostMemory()
        if let out { try DemoPictures.prepare(folder: out) }
        let engine = try deviceOption.engine()
        let reference = try Engine(device: .reference)
        var options = DemoTraining.Options()
        options.steps = steps
        options.batch = batch
        options.side = size
        options.seed = seed
        options.learningRate = learningRate
        options.refinement = noRefinement ? nil : Refinement(beta: beta, delta: delta)
        var training = DemoTraining(options)
        let settings = training.settings

        print("device: \(engine.backend)")
        print("scenes: \(batch) per step, \(size)×\(size) px, \(steps) steps, seed \(seed); loss: REG "
              + (noRefinement ? "without refinement (plain focal loss)" : "with refinement β = \(beta), δ = \(delta) px")
              + ", γ = 2, σ = 0.05, λ = 1")
        print("detection α (N_total / N_c from the paper's counts): "
              + zip(RoadScenes.detectionClasses, settings.detection.alpha!).map { "\($0) \(fixed(Double($1), 2))" }.joined(separator: ", "))
        print("segmentation α: "
              + zip(RoadScenes.segmentationClasses, settings.segmentation.alpha!).map { "\($0) \(fixed(Double($1), 2))" }.joined(separator: ", "))

        var heldOutRandom = SplitMix64(seed: seed ^ 0x5EED_0F4E_1D00)
        let heldOut = (0..<evaluationScenes).map { _ in training.scenes.scene(&heldOutRandom) }
        let before = try DemoEvaluation(scenes: heldOut, training: training)

        let bar = ProgressBar(total: steps)
        let epoch = max(1, steps / 10)
        var epochLosses: [Double] = []
        try training.run(on: engine, reference: reference) { step, record in
            epochLosses.append(record.total)
            bar.show(step, "loss \(fixed(record.total, 4))")
            if step % epoch == 0 || step == steps {
                bar.clear()
                print("epoch \((step + epoch - 1) / epoch): steps \(step - epochLosses.count + 1)…\(step), mean loss \(fixed(mean(epochLosses), 4))")
                epochLosses = []
            }
        }
        bar.clear()

        let after = try DemoEvaluation(scenes: heldOut, training: training)
        let timed = training.engineSeconds.count
        print("")
        print("time per step (the same \(timed) batches): \(training.backend) \(fixed(mean(training.engineSeconds) * 1e3, 1)) ms, "
              + "CPU reference \(fixed(mean(training.referenceSeconds) * 1e3, 1)) ms; "
              + "model forward and backward on the host \(fixed(training.modelSeconds / Double(steps) * 1e3, 1)) ms")
        print("")
        DemoReport.printMetrics(before: before, after: after)
        if let out {
            try DemoPictures.write(folder: out, training: training, heldOut: heldOut, evaluation: after, engine: engine)
            print("\nwrote \(out)/loss.svg and \(DemoPictures.names.map { "\(out)/\($0).png" }.joined(separator: ", "))")
        }
    }
}


/// A progress bar on a terminal (standard error); nothing when standard error is not one.
struct ProgressBar {
    let total: Int
    private let progress = Progress()

    init(total: Int) { self.total = total }

    func show(_ done: Int, _ note: String) {
        let width = 30, filled = width * done / max(total, 1)
        progress.show("[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                      + "] \(done)/\(total) \(note)")
    }

    func clear() { progress.clear() }
}

extension DemoCommand {
    /// Refuses a run whose batches cannot fit in host memory (Swift aborts on a failed array
    /// allocation): per pixel of the largest batch (training or held-out), 13 features, the 5
    /// segmentation logits, their gradient and the reference's float64 copies, about 200 bytes.
    func requireHostMemory() throws {
        let pixels = Double(max(batch, evaluationScenes)) * Double(size) * Double(size)
        let needed = pixels * 200
        if let available = HostMemory.availableBytes(), needed > Double(available) {
            throw ValidationError(String(format: "--batch, --eval-scenes, --size: a batch of %d scenes of %d² px needs about %.1f GiB of host memory, %.1f GiB is available; use fewer or smaller scenes",
                                         max(batch, evaluationScenes), size, needed / 1_073_741_824, Double(available) / 1_073_741_824))
        }
    }
}
