import Dispatch

/// Several engines (one per OpenCL device, typically) that split each step's batch between them:
/// detection samples and segmentation images in contiguous shards, one per engine, run at the
/// same time. Each task's M is counted on the host for the whole batch and every shard divides
/// by it, so the shards' gradients are their parts of the whole batch's gradient; sums, counts
/// and positives are added in shard order, so the combination is exact and deterministic.
public final class EngineGroup: Sendable {
    public let engines: [Engine]

    /// Throws `InvalidArgument` for an empty list.
    public init(_ engines: [Engine]) throws {
        guard !engines.isEmpty else { throw InvalidArgument("engines", "an engine group needs at least one engine") }
        self.engines = engines
    }

    /// One engine per request (each with its own context, so `[.index(0), .index(0)]` gives two
    /// instances of one device).
    public convenience init(devices: [DeviceRequest], fallback: Engine.FallbackPolicy = .toReference,
                            configuration: Engine.Configuration = Engine.Configuration()) throws {
        try self.init(try devices.map { try Engine(device: $0, fallback: fallback, configuration: configuration, environment: [:]) })
    }

    /// The step of `Engine.step(_:_:into:)`, split across the engines. The result's backend is
    /// the first engine's, or the reference when any shard was computed there.
    public func step(_ batch: StepBatch, _ settings: StepSettings = StepSettings(),
                     into gradients: StepGradients) throws -> StepResult {
        let problem = try StepProblem(batch, settings) // names bad elements by their index in the whole batch
        try gradients.validate(for: problem)
        var shared = settings
        if let d = problem.detection { shared.detection.normalizer = Self.normalizer(d.hostDivisor()) }
        if let s = problem.segmentation { shared.segmentation.normalizer = Self.normalizer(s.hostDivisor()) }
        shared.validatesElements = false // scanned above
        let shardSettings = shared

        let shards = UncheckedSendable(engines.indices.map { Self.shard($0, of: engines.count, batch, gradients) })
        var outcomes = [Result<StepResult, any Error>](repeating: .failure(InvalidArgument("engines", "not run")),
                                                      count: engines.count)
        outcomes.withUnsafeMutableBufferPointer { slots in
            // Each iteration writes its own slot, reads its own shard's views of the caller's
            // memory and writes its own range of the caller's gradients: no two overlap.
            let results = UncheckedSendable(slots)
            DispatchQueue.concurrentPerform(iterations: engines.count) { k in
                let shard = shards.value[k]
                results.value[k] = Result { try engines[k].step(shard.batch, shardSettings, into: shard.gradients) }
            }
        }
        var parts: [StepResult] = []
        for outcome in outcomes {
            do {
                parts.append(try outcome.get())
            } catch is InvalidArgument {
                try problem.scanElements() // a kernel flagged an element: name it in the whole batch
                throw DeviceFault("a shard's kernel flagged an element that the host finds valid")
            }
        }
        return Self.combine(parts, problem)
    }

    /// The step on arrays: the `[Float]` convenience.
    public func step(_ arrays: StepArrays, _ settings: StepSettings = StepSettings()) throws -> StepOutput {
        try StepOutput(arrays) { batch, gradients in try step(batch, settings, into: gradients) }
    }

    /// The whole batch's M as each shard's normaliser; M = 0 (nothing counted) stays `samples`,
    /// which gives every shard its zero loss and gradient.
    private static func normalizer(_ divisor: (value: Double, inverse: Double)) -> FocalLoss.Normalizer {
        divisor.value > 0 ? .given(divisor.value) : .samples
    }

    private struct Shard {
        var batch: StepBatch
        var gradients: StepGradients
    }

    /// Shard `k` of `n`: contiguous samples and images, views into the caller's memory.
    private static func shard(_ k: Int, of n: Int, _ batch: StepBatch, _ gradients: StepGradients) -> Shard {
        func part(_ count: Int) -> Range<Int> { (count * k / n)..<(count * (k + 1) / n) }
        func slice<T>(_ buffer: UnsafeBufferPointer<T>, _ range: Range<Int>, _ width: Int) -> UnsafeBufferPointer<T> {
            UnsafeBufferPointer(rebasing: buffer[(range.lowerBound * width)..<(range.upperBound * width)])
        }
        func slice(_ view: FloatView, _ range: Range<Int>, _ width: Int) -> FloatView {
            view.slice((range.lowerBound * width)..<(range.upperBound * width))
        }
        func slice(_ view: MutableFloatView?, _ range: Range<Int>, _ width: Int) -> MutableFloatView? {
            view?.slice((range.lowerBound * width)..<(range.upperBound * width))
        }
        var shard = Shard(batch: StepBatch(), gradients: StepGradients())
        if var d = batch.detection {
            let range = part(d.samples), width = d.classes
            d.logits = slice(d.logits, range, width)
            d.targets = slice(d.targets, range, width)
            d.points = slice(d.points, range, 3)
            d.sigma = d.sigma.map { slice($0, range, width) }
            d.samples = range.count
            shard.batch.detection = d
            shard.gradients.detectionLogitsView = slice(gradients.detectionLogitsView, range, width)
            shard.gradients.detectionSigmaView = d.sigma == nil ? nil : slice(gradients.detectionSigmaView, range, width)
        }
        if var s = batch.segmentation {
            let range = part(s.batch), plane = s.height * s.width, width = s.classes * plane
            s.logits = slice(s.logits, range, width)
            s.labels = slice(s.labels, range, plane)
            s.sigma = s.sigma.map { slice($0, range, width) }
            s.batch = range.count
            shard.batch.segmentation = s
            shard.gradients.segmentationLogitsView = slice(gradients.segmentationLogitsView, range, width)
            shard.gradients.segmentationSigmaView = s.sigma == nil ? nil : slice(gradients.segmentationSigmaView, range, width)
        }
        return shard
    }

    /// Adds the shards' sums, counts and positives in order and divides by the whole batch's M.
    private static func combine(_ parts: [StepResult], _ problem: StepProblem) -> StepResult {
        func task(_ results: [TaskResult], _ divisor: (value: Double, inverse: Double)) -> TaskResult {
            var total = TaskResult(loss: 0, sum: 0, count: 0, positives: 0, divisor: divisor.value, sigmaGradient: nil)
            for r in results {
                total.sum += r.sum
                total.count += r.count
                total.positives += r.positives
                if let s = r.sigmaGradient { total.sigmaGradient = (total.sigmaGradient ?? 0) + s }
            }
            total.loss = total.sum * divisor.inverse
            return total
        }
        let detection = problem.detection.map { task(parts.compactMap(\.detection), $0.hostDivisor()) }
        let segmentation = problem.segmentation.map { task(parts.compactMap(\.segmentation), $0.hostDivisor()) }
        let backend = parts.contains { $0.backend == .reference } ? .reference : parts[0].backend
        return StepResult(total: (detection?.loss ?? 0) + Double(problem.settings.lambda) * (segmentation?.loss ?? 0),
                          detection: detection, segmentation: segmentation, backend: backend)
    }
}

/// Views of the caller's memory handed to `concurrentPerform`'s iterations, each of which uses
/// only its own index (see `EngineGroup.step`).
private struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T

    init(_ value: T) { self.value = value }
}
