#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The float64 CPU reference of the focal loss: the oracle for tests and the fallback. The same
/// formulas as Kernels/focal_loss.cl (docs/focal-loss.md derives them), evaluated in float64.
public enum FocalLossReference {
    /// The detection form of `Engine.focalLoss(detection:…)`, in float64.
    public static func focalLoss(detection logits: [Float], targets: [Float], samples: Int, classes: Int,
                                 _ settings: FocalLoss) throws(InvalidArgument) -> FocalLossResult<Double> {
        try evaluate(FocalLossInput(detection: logits, targets: targets, samples: samples, classes: classes, settings))
    }

    /// The segmentation form of `Engine.focalLoss(segmentation:…)`, in float64.
    public static func focalLoss(segmentation logits: [Float], labels: [UInt8], batch: Int, classes: Int,
                                 height: Int, width: Int,
                                 _ settings: FocalLoss) throws(InvalidArgument) -> FocalLossResult<Double> {
        try evaluate(FocalLossInput(segmentation: logits, labels: labels, batch: batch, classes: classes,
                                    height: height, width: width, settings))
    }

    /// The segmentation form with `Int32` labels.
    public static func focalLoss(segmentation logits: [Float], labels: [Int32], batch: Int, classes: Int,
                                 height: Int, width: Int,
                                 _ settings: FocalLoss) throws(InvalidArgument) -> FocalLossResult<Double> {
        let bytes = try FocalLossInput.labelBytes(labels, classes: classes, height: height, width: width)
        return try focalLoss(segmentation: logits, labels: bytes, batch: batch, classes: classes, height: height,
                             width: width, settings)
    }

    package static func evaluate(_ input: FocalLossInput) throws(InvalidArgument) -> FocalLossResult<Double> {
        try input.validateElements()
        return compute(input, logits: input.logits.map(Double.init), sigma: Sigma(input.settings.uncertainty))
    }

    /// σ in float64 (the finite-difference tests perturb it).
    enum Sigma {
        case none
        case scalar(Double)
        case perElement([Double])

        init(_ uncertainty: FocalLoss.Uncertainty) {
            switch uncertainty {
            case .none: self = .none
            case .scalar(let s): self = .scalar(Double(s))
            case .perElement(let s): self = .perElement(s.map(Double.init))
            }
        }

        func callAsFunction(_ i: Int) -> Double {
            switch self {
            case .none: 0
            case .scalar(let s): s
            case .perElement(let s): s[i]
            }
        }
    }

    /// The loss of a validated input at float64 `logits` and `sigma` (which replace the input's own:
    /// the finite-difference tests perturb them).
    static func compute(_ input: FocalLossInput, logits: [Double], sigma: Sigma) -> FocalLossResult<Double> {
        let settings = input.settings
        let n = input.elementCount
        let classes = input.classes
        let alpha = settings.alpha?.map(Double.init) ?? [Double](repeating: 1, count: classes)
        let split = settings.positiveFraction.map(Double.init)
        let gamma = Double(settings.gamma)
        let spatial: (Int) -> Double
        switch settings.spatial {
        case .none: spatial = { _ in 1 }
        case .weights(let g): spatial = { Double(g[$0]) }
        case .distances(let d, let refinement):
            let beta = Double(refinement.beta), delta = Double(refinement.delta)
            spatial = { RefinementReference.weight(distance: Double(d[$0]), beta: beta, delta: delta) }
        }
        func weight(_ i: Int, _ y: Double) -> Double {
            let c = input.classIndex(ofElement: i)
            let a = split.map { $0 * y + (1 - $0) * (1 - y) } ?? 1
            return alpha[c] * a * spatial(i)
        }

        var loss = [Double](repeating: 0, count: n)
        var t = [Double](repeating: 0, count: n)
        var dSigma = [Double](repeating: 0, count: n)
        var count = 0, positives = 0
        switch input.layout {
        case .detection(let samples, let classes):
            count = samples
            for row in 0..<samples where input.targets[row * classes..<(row + 1) * classes].contains(where: { $0 > 0 }) {
                positives += 1
            }
            for i in 0..<n {
                let y = Double(input.targets[i])
                let term = element(sigmoidParts(logits[i]), y: y, weight: weight(i, y), gamma: gamma, sigma: sigma(i))
                (loss[i], t[i], dSigma[i]) = (term.loss, term.t, term.dSigma)
            }
        case .segmentation(let batch, _, let height, let width):
            let plane = height * width
            var z = [Double](repeating: 0, count: classes)
            var ex = [Double](repeating: 0, count: classes)
            var parts = [Parts](repeating: Parts(p: 0, q: 0, logP: 0, logQ: 0), count: classes)
            var terms = [Double](repeating: 0, count: classes)
            for b in 0..<batch {
                for offset in 0..<plane {
                    let label = input.labels[b * plane + offset]
                    guard label != LabelMap.ignore else { continue }
                    count += 1
                    if label >= 1 && Int(label) <= classes { positives += 1 }
                    let base = b * classes * plane + offset
                    for k in 0..<classes { z[k] = logits[base + k * plane] }
                    var top = 0
                    if settings.activation == .softmax {
                        top = softmaxParts(z, ratio: &ex, into: &parts)
                    } else {
                        for k in 0..<classes { parts[k] = sigmoidParts(z[k]) }
                    }
                    for k in 0..<classes {
                        let i = base + k * plane
                        let y: Double = Int(label) == k + 1 ? 1 : 0
                        let term = element(parts[k], y: y, weight: weight(i, y), gamma: gamma, sigma: sigma(i))
                        (loss[i], terms[k], dSigma[i]) = (term.loss, term.t, term.dSigma)
                    }
                    if settings.activation == .softmax {
                        softmaxGradient(&terms, parts, ratio: ex, top: top)
                    }
                    for k in 0..<classes { t[base + k * plane] = terms[k] }
                }
            }
        }

        let sum = loss.reduce(0, +)
        let divisor = settings.divisor(count: count, positives: positives)
        let scale = Double(settings.gradientScale) * divisor.inverse
        var sigmaGradient: [Double]? = nil
        var scalarSigmaGradient: Double? = nil
        switch settings.uncertainty {
        case .none: break
        case .scalar: scalarSigmaGradient = dSigma.reduce(0, +) * scale
        case .perElement: sigmaGradient = dSigma.map { $0 * scale }
        }
        return FocalLossResult(loss: sum * divisor.inverse, sum: sum, count: count, positives: positives, divisor: divisor.value,
                               elementLoss: settings.reduction == .none ? loss : nil,
                               gradient: t.map { $0 * scale }, sigmaGradient: sigmaGradient,
                               scalarSigmaGradient: scalarSigmaGradient)
    }

    // MARK: Element math (docs/focal-loss.md)

    /// A probability in four accurate pieces: p, q = 1 − p, log p, log q.
    struct Parts {
        var p, q, logP, logQ: Double
    }

    /// ℓ, t = ∂ℓ/∂η (η the logit of p) and ∂ℓ/∂σ of one element.
    struct Term {
        var loss, t, dSigma: Double
    }

    /// σ below this is treated as 0 (as in the kernel).
    static let sigmaMinimum = 0x1p-60

    static func sigmoidParts(_ z: Double) -> Parts {
        let e = exp(-abs(z)), l = log1p(e)
        let big = 1 / (1 + e), small = e * big
        return z >= 0 ? Parts(p: big, q: small, logP: -l, logQ: -(z + l))
                      : Parts(p: small, q: big, logP: z - l, logQ: -l)
    }

    /// Softmax over one pixel's logits, with 1 − p accurate for the largest p (see the kernel).
    /// Returns the index `top` of the first largest logit, and leaves p_k / q_top in `ratio` for
    /// k ≠ top (computed as e^(z_k − m2) / S', finite even where q_top underflows).
    static func softmaxParts(_ z: [Double], ratio ex: inout [Double], into parts: inout [Parts]) -> Int {
        var top = 0
        for k in z.indices where z[k] > z[top] { top = k }
        let m = z[top]
        var m2 = -Double.infinity
        for k in z.indices where k != top { m2 = max(m2, z[k]) }
        var rest = 0.0
        for k in z.indices {
            ex[k] = k == top ? 0 : exp(z[k] - m2)
            rest += ex[k]
        }
        let eTop = exp(m2 - m)
        let logS = log1p(eTop * rest), logRest = log(rest)
        let pTop = 1 / (1 + eTop * rest)
        for k in z.indices {
            if k == top {
                parts[k] = Parts(p: pTop, q: eTop * rest * pTop, logP: -logS, logQ: (m2 - m) + logRest - logS)
            } else {
                let p = ex[k] * eTop * pTop
                parts[k] = Parts(p: p, q: 1 - p, logP: z[k] - m - logS, logQ: log1p(-p))
            }
        }
        for k in z.indices { ex[k] /= rest }
        return top
    }

    /// Replaces t by ∂L/∂z_k = t_k − p_k Σ_{c≠k} t_c/q_c, arranged so that no q near 0 divides:
    /// with Q = Σ_{c≠top} t_c/q_c, top gets t_top − p_top Q and every other k gets
    /// t_k/q_k − p_k Q − t_top (p_k/q_top).
    static func softmaxGradient(_ t: inout [Double], _ parts: [Parts], ratio: [Double], top: Int) {
        var sumQ = 0.0
        for k in parts.indices where k != top { sumQ += t[k] / parts[k].q }
        let tTop = t[top]
        for k in parts.indices {
            if k == top {
                t[k] = tTop - parts[k].p * sumQ
            } else {
                t[k] = t[k] / parts[k].q - parts[k].p * sumQ - tTop * ratio[k]
            }
        }
    }

    /// One element with uncertainty σ: p̂ = the mean of N(p, σ²) truncated to [0, 1].
    static func element(_ parts: Parts, y: Double, weight: Double, gamma: Double, sigma: Double) -> Term {
        guard sigma >= sigmaMinimum else {
            let (loss, t) = binary(parts, y: y, weight: weight, gamma: gamma)
            return Term(loss: loss, t: t, dSigma: 0)
        }
        let lower = parts.p <= parts.q
        let mean = truncatedMean(lower ? parts.p : parts.q, sigma: sigma)
        let small = mean.value, large = 1 - mean.value
        let smallParts = Parts(p: small, q: large, logP: log(small), logQ: log1p(-small))
        let hat = lower ? smallParts : Parts(p: large, q: small, logP: smallParts.logQ, logQ: smallParts.logP)
        let (loss, tHat) = binary(hat, y: y, weight: weight, gamma: gamma)
        let byPHat = tHat / (small * large)
        return Term(loss: loss, t: byPHat * mean.byMean * parts.p * parts.q,
                    dSigma: lower ? byPHat * mean.bySigma : -byPHat * mean.bySigma)
    }

    /// ℓ = w |D|^γ BCE and t = ∂ℓ/∂η for D = p − y (see the kernel's reg_focal_binary).
    static func binary(_ x: Parts, y: Double, weight w: Double, gamma: Double) -> (loss: Double, t: Double) {
        let bce = -(y * x.logP + (1 - y) * x.logQ)
        let d = (1 - y) * x.p - y * x.q
        let ad = abs(d)
        let f: Double, fr: Double // |D|^γ, |D|^(γ−1) p q
        if gamma == 0 {
            (f, fr) = (1, 0)
        } else if ad == 0 {
            (f, fr) = (0, 0)
        } else if y == 1 {
            f = exp(gamma * x.logQ)
            fr = f * x.p
        } else if y == 0 {
            f = exp(gamma * x.logP)
            fr = f * x.q
        } else {
            let l = log(ad)
            f = exp(gamma * l)
            fr = exp((gamma - 1) * l + x.logP + x.logQ)
        }
        let sign: Double = d > 0 ? 1 : (d < 0 ? -1 : 0)
        return (w * f * bce, w * sign * (gamma * fr * bce + f * ad))
    }

    /// The truncated normal mean ŝ of N(s, σ²) on [0, 1] for s ∈ [0, ½], with ∂ŝ/∂s and ∂ŝ/∂σ.
    static func truncatedMean(_ s: Double, sigma: Double) -> (value: Double, byMean: Double, bySigma: Double) {
        let a = -s / sigma, b = (1 - s) / sigma
        let phiA = exp(-0.5 * a * a) / (2 * Double.pi).squareRoot()
        let phiB = exp(-0.5 * b * b) / (2 * Double.pi).squareRoot()
        let z = 0.5 * (erf(b / 2.0.squareRoot()) + erf(-a / 2.0.squareRoot()))
        let lambda = -phiA * expm1(-(1 - 2 * s) / (2 * sigma * sigma)) / z
        let first = (a * phiA - b * phiB) / z
        let second = (a * a * phiA - b * b * phiB) / z
        return (s + sigma * lambda, 1 + first - lambda * lambda, lambda + second - lambda * first)
    }
}
