import REG
import REGDiagnostics

/// Synthetic road scenes for `reg demo`: a three-channel image of a road, label maps of the
/// paper's five segmentation classes (blobs), and boxes of its seven detection classes (each on
/// one cell of a 16-pixel grid, so that a per-cell classifier can find them). Class frequencies
/// follow the paper's annotation counts (appendix A.7); every class has its own colour and
/// texture, with noise, so that colour and local statistics separate them imperfectly.
struct RoadScenes {
    /// The paper's detection classes (§2.1) and annotation counts (A.7).
    static let detectionClasses = ["pavilion", "pedestrian bridge", "information sign", "single-arm pole", "bus stop",
                                   "warning sign", "concrete guardrail"]
    static let detectionCounts = [200, 100, 700, 1500, 50, 800, 300]
    /// The paper's segmentation classes (§2.2) and annotation counts (A.7).
    static let segmentationClasses = ["pavilion", "pedestrian bridge", "information sign", "warning sign", "concrete guardrail"]
    static let segmentationCounts = [100, 50, 500, 400, 150]

    static let cell = 16
    static let channels = 3

    /// One scene: `image` is `[channels, side, side]` in [0, 1]; `labels` `[side, side]` (0
    /// background, 1…5 segmentation classes, 255 ignore under the detection objects); `boxes`
    /// the detection objects as (class 1…7, cell index).
    struct Scene {
        var image: [Float]
        var labels: [UInt8]
        var objects: [(classID: Int, cell: Int)]
    }

    let side: Int
    var cellsPerSide: Int { side / Self.cell }
    var cells: Int { cellsPerSide * cellsPerSide }

    init(side: Int) {
        precondition(side >= Self.cell && side % Self.cell == 0, "side is a multiple of \(Self.cell)")
        self.side = side
    }

    /// A class drawn in proportion to `counts`.
    static func draw(_ counts: [Int], _ random: inout SplitMix64) -> Int {
        var pick = Int.random(in: 0..<counts.reduce(0, +), using: &random)
        for (k, count) in counts.enumerated() {
            if pick < count { return k + 1 }
            pick -= count
        }
        return counts.count
    }

    /// Colour (r, g, b) and stripe frequency of detection class k (1…7) and segmentation class
    /// 100 + k (1…5); neighbours in the palette are close on purpose.
    static func appearance(_ key: Int) -> (color: [Float], stripes: Float) {
        let palette: [Int: ([Float], Float)] = [
            1: ([0.85, 0.35, 0.30], 0), 2: ([0.30, 0.45, 0.85], 0.5), 3: ([0.20, 0.70, 0.30], 0),
            4: ([0.75, 0.75, 0.75], 1.0), 5: ([0.90, 0.80, 0.20], 0.25), 6: ([0.95, 0.55, 0.10], 0.75),
            7: ([0.55, 0.55, 0.50], 0.5),
            101: ([0.70, 0.30, 0.35], 0), 102: ([0.35, 0.40, 0.75], 0.5), 103: ([0.25, 0.60, 0.35], 0),
            104: ([0.85, 0.60, 0.15], 0.75), 105: ([0.60, 0.60, 0.55], 0.5),
        ]
        let (color, stripes) = palette[key]!
        return (color, stripes)
    }

    func scene(_ random: inout SplitMix64) -> Scene {
        let plane = side * side
        var image = [Float](repeating: 0, count: Self.channels * plane)
        var labels = [UInt8](repeating: LabelMap.background, count: plane)
        // Road: grey, lighter towards the bottom, with noise.
        for y in 0..<side {
            for x in 0..<side {
                let shade = 0.30 + 0.25 * Float(y) / Float(side)
                for c in 0..<Self.channels { image[c * plane + y * side + x] = shade + Float.random(in: -0.08...0.08, using: &random) }
            }
        }
        // Segmentation blobs.
        for _ in 0..<Int.random(in: 2...5, using: &random) {
            let k = Self.draw(Self.segmentationCounts, &random)
            let cy = Float.random(in: 0..<Float(side), using: &random), cx = Float.random(in: 0..<Float(side), using: &random)
            let ry = Float.random(in: 4...Float(side) / 4, using: &random), rx = Float.random(in: 4...Float(side) / 4, using: &random)
            paint(&image, key: 100 + k, &random) { y, x in
                let dy = (Float(y) - cy) / ry, dx = (Float(x) - cx) / rx
                if dy * dy + dx * dx <= 1 { labels[y * side + x] = UInt8(k); return true }
                return false
            }
        }
        // Detection objects, one per chosen cell; their pixels are no segmentation class's.
        var objects: [(classID: Int, cell: Int)] = []
        var free = Array(0..<cells)
        for _ in 0..<Int.random(in: min(2, cells)...min(6, cells), using: &random) { // a 16-px scene has one cell
            let cell = free.remove(at: Int.random(in: 0..<free.count, using: &random))
            let k = Self.draw(Self.detectionCounts, &random)
            let (y0, x0) = (cell / cellsPerSide * Self.cell, cell % cellsPerSide * Self.cell)
            paint(&image, key: k, &random) { y, x in
                guard (y0..<y0 + Self.cell).contains(y) && (x0..<x0 + Self.cell).contains(x) else { return false }
                labels[y * side + x] = LabelMap.ignore
                return true
            }
            objects.append((k, cell))
        }
        return Scene(image: image, labels: labels, objects: objects)
    }

    /// Paints class `key`'s colour and stripes, with noise, on the pixels where `inside` holds.
    private func paint(_ image: inout [Float], key: Int, _ random: inout SplitMix64, _ inside: (Int, Int) -> Bool) {
        let plane = side * side
        let (color, stripes) = Self.appearance(key)
        for y in 0..<side {
            for x in 0..<side where inside(y, x) {
                let stripe: Float = stripes > 0 && Int(Float(x + y) * stripes) % 2 == 1 ? 0.75 : 1
                for c in 0..<Self.channels {
                    image[c * plane + y * side + x] = min(1, max(0, color[c] * stripe + Float.random(in: -0.12...0.12, using: &random)))
                }
            }
        }
    }

    /// The detection targets and anchor points of a batch: one sample per grid cell, one-hot on
    /// the class of the object in it; points `[image, x, y]` at the cell centres; boxes
    /// `[image, class, x1, y1, x2, y2]` of the objects.
    func detection(_ scenes: [Scene]) -> (targets: [Float], points: [Float], boxes: [Float]) {
        let classes = Self.detectionClasses.count
        var targets = [Float](repeating: 0, count: scenes.count * cells * classes)
        var points: [Float] = []
        var boxes: [Float] = []
        for (b, scene) in scenes.enumerated() {
            for cell in 0..<cells {
                let (y0, x0) = (cell / cellsPerSide * Self.cell, cell % cellsPerSide * Self.cell)
                points += [Float(b), Float(x0) + Float(Self.cell) / 2, Float(y0) + Float(Self.cell) / 2]
            }
            for object in scene.objects {
                targets[(b * cells + object.cell) * classes + object.classID - 1] = 1
                let (y0, x0) = (object.cell / cellsPerSide * Self.cell, object.cell % cellsPerSide * Self.cell)
                boxes += [Float(b), Float(object.classID), Float(x0), Float(y0), Float(x0 + Self.cell), Float(y0 + Self.cell)]
            }
        }
        return (targets, points, boxes)
    }
}
