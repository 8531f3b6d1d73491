/// `reg demo`'s model, written out because no framework is at hand: two linear classifiers over
/// quadratic colour features (so that a class's colour cluster can be enclosed), one per pixel
/// for segmentation and one per grid cell for detection, trained with Adam from the gradients
/// the REG step returns (the chain rule through `logits = W · f` is `∂L/∂W = Σᵢ ∂L/∂logitsᵢ · fᵢᵀ`).
struct DemoModel {
    /// A linear layer `[outputs, inputs]` with Adam's moments.
    struct Linear {
        let outputs: Int
        let inputs: Int
        var weights: [Float]
        private var first: [Float]
        private var second: [Float]
        private var steps = 0

        init(outputs: Int, inputs: Int) {
            self.outputs = outputs
            self.inputs = inputs
            weights = [Float](repeating: 0, count: outputs * inputs)
            first = weights
            second = weights
            // Start every class improbable (the bias input is the last feature): focal-loss practice.
            for k in 0..<outputs { weights[k * inputs + inputs - 1] = -2 }
        }

        /// Logits `[outputs]` for every row of `features` (`[rows, inputs]`), laid out by `index`.
        func forward(_ features: [Float], rows: Int, into logits: inout [Float], index: (Int, Int) -> Int) {
            for i in 0..<rows {
                for k in 0..<outputs {
                    var z: Float = 0
                    for j in 0..<inputs { z += weights[k * inputs + j] * features[i * inputs + j] }
                    logits[index(i, k)] = z
                }
            }
        }

        /// One Adam step from `gradient` (laid out by `index`, like the logits).
        mutating func backward(_ features: [Float], rows: Int, gradient: [Float], index: (Int, Int) -> Int,
                               learningRate: Float) {
            var dW = [Float](repeating: 0, count: outputs * inputs)
            for i in 0..<rows {
                for k in 0..<outputs {
                    let g = gradient[index(i, k)]
                    guard g != 0 else { continue }
                    for j in 0..<inputs { dW[k * inputs + j] += g * features[i * inputs + j] }
                }
            }
            steps += 1
            let (b1, b2): (Float, Float) = (0.9, 0.999)
            let c1 = 1 - pow(b1, Float(steps)), c2 = 1 - pow(b2, Float(steps))
            for w in weights.indices {
                first[w] = b1 * first[w] + (1 - b1) * dW[w]
                second[w] = b2 * second[w] + (1 - b2) * dW[w] * dW[w]
                weights[w] -= learningRate * (first[w] / c1) / ((second[w] / c2).squareRoot() + 1e-8)
            }
        }
    }

    static let featureCount = 13

    var segmentation = Linear(outputs: RoadScenes.segmentationClasses.count, inputs: featureCount)
    var detection = Linear(outputs: RoadScenes.detectionClasses.count, inputs: featureCount)

    /// Quadratic features of a colour and a local mean: (c − ½), (m − ½), (c − ½)² and the cross
    /// products, and a bias.
    static func quadratic(_ c: [Float], _ m: [Float], into features: inout [Float], at row: Int) {
        let r = c[0] - 0.5, g = c[1] - 0.5, b = c[2] - 0.5
        let values: [Float] = [r, g, b, m[0] - 0.5, m[1] - 0.5, m[2] - 0.5, r * r, g * g, b * b, r * g, r * b, g * b, 1]
        for (j, v) in values.enumerated() { features[row * featureCount + j] = 4 * v }
        features[row * featureCount + featureCount - 1] = 1
    }

    /// Per-pixel features of a batch of scenes: the pixel's colour and its 3 × 3 mean.
    static func pixelFeatures(_ scenes: [RoadScenes.Scene], side: Int) -> [Float] {
        let plane = side * side
        var features = [Float](repeating: 0, count: scenes.count * plane * featureCount)
        for (b, scene) in scenes.enumerated() {
            for y in 0..<side {
                for x in 0..<side {
                    var color = [Float](repeating: 0, count: 3), mean = [Float](repeating: 0, count: 3)
                    var n: Float = 0
                    for yy in max(0, y - 1)...min(side - 1, y + 1) {
                        for xx in max(0, x - 1)...min(side - 1, x + 1) {
                            n += 1
                            for c in 0..<3 { mean[c] += scene.image[c * plane + yy * side + xx] }
                        }
                    }
                    for c in 0..<3 {
                        color[c] = scene.image[c * plane + y * side + x]
                        mean[c] /= n
                    }
                    quadratic(color, mean, into: &features, at: b * plane + y * side + x)
                }
            }
        }
        return features
    }

    /// Per-cell features: the cell's mean colour and the mean of its central half.
    static func cellFeatures(_ scenes: [RoadScenes.Scene], side: Int) -> [Float] {
        let plane = side * side, cell = RoadScenes.cell, perSide = side / cell
        var features = [Float](repeating: 0, count: scenes.count * perSide * perSide * featureCount)
        for (b, scene) in scenes.enumerated() {
            for k in 0..<(perSide * perSide) {
                let (y0, x0) = (k / perSide * cell, k % perSide * cell)
                var mean = [Float](repeating: 0, count: 3), centre = [Float](repeating: 0, count: 3)
                for y in y0..<(y0 + cell) {
                    for x in x0..<(x0 + cell) {
                        let inner = abs(2 * (y - y0) - cell + 1) < cell / 2 && abs(2 * (x - x0) - cell + 1) < cell / 2
                        for c in 0..<3 {
                            let v = scene.image[c * plane + y * side + x]
                            mean[c] += v
                            if inner { centre[c] += v }
                        }
                    }
                }
                for c in 0..<3 {
                    mean[c] /= Float(cell * cell)
                    centre[c] /= Float(cell * cell / 4)
                }
                quadratic(centre, mean, into: &features, at: b * perSide * perSide + k)
            }
        }
        return features
    }
}

#if canImport(Glibc)
import Glibc
#endif
