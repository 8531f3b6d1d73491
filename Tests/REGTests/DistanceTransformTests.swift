import Testing
import REGRuntime
@testable import REG
@testable import REGDiagnostics

/// A batch of label maps and the transform's arguments.
struct LabelMaps: Sendable, CustomTestStringConvertible {
    var labels: [UInt8]
    var batch: Int
    var height: Int
    var width: Int
    var classes: Int

    var testDescription: String { "\(batch)×\(height)×\(width), C = \(classes)" }

    subscript(b: Int, y: Int, x: Int) -> UInt8 {
        get { labels[(b * height + y) * width + x] }
        set { labels[(b * height + y) * width + x] = newValue }
    }

    init(batch: Int, height: Int, width: Int, classes: Int, fill: UInt8 = 0) {
        labels = [UInt8](repeating: fill, count: batch * height * width)
        self.batch = batch
        self.height = height
        self.width = width
        self.classes = classes
    }

    /// Random labels with a fixed seed: each pixel is a class with probability `density` (classes
    /// equally likely), ignored with probability `ignore`, background otherwise.
    static func random(batch: Int, height: Int, width: Int, classes: Int, density: Double = 0.15,
                       ignore: Double = 0.05, seed: UInt64) -> LabelMaps {
        var maps = LabelMaps(batch: batch, height: height, width: width, classes: classes)
        var random = SplitMix64(seed: seed)
        for i in maps.labels.indices {
            let u = Double.random(in: 0..<1, using: &random)
            if u < density {
                maps.labels[i] = UInt8(1 + Int.random(in: 0..<classes, using: &random))
            } else if u < density + ignore {
                maps.labels[i] = 255
            }
        }
        return maps
    }

    /// The benchmark's blob-like maps.
    static func blobs(batch: Int, height: Int, width: Int, classes: Int, seed: UInt64) -> LabelMaps {
        var maps = LabelMaps(batch: batch, height: height, width: width, classes: classes)
        maps.labels = DistanceTransformDescriptor.blobLabels(batch: batch, height: height, width: width,
                                                            classes: classes, seed: seed)
        return maps
    }

    func transform(on engine: Engine, spacing: PixelSpacing = .unit, squared: Bool) throws -> [Float] {
        try engine.distanceTransform(labels: labels, batch: batch, height: height, width: width,
                                     classes: classes, spacing: spacing, squared: squared)
    }

    func reference(spacing: PixelSpacing = .unit, squared: Bool) throws -> [Float] {
        try DistanceTransformReference.distanceTransform(labels: labels, batch: batch, height: height, width: width,
                                                         classes: classes, spacing: spacing, squared: squared)
    }

    /// The independent oracle: for every pixel and class, the minimum over all pixels of the class
    /// in the image of sy²Δy² + sx²Δx² (in integers, then times s², when sy = sx), in float64.
    func bruteForceSquared(spacing: PixelSpacing = .unit) -> [Double] {
        let sy2 = Double(spacing.y) * Double(spacing.y), sx2 = Double(spacing.x) * Double(spacing.x)
        var result = [Double](repeating: .infinity, count: batch * classes * height * width)
        for b in 0..<batch {
            for k in 0..<classes {
                var pixels: [(Int, Int)] = []
                for y in 0..<height {
                    for x in 0..<width where self[b, y, x] == UInt8(k + 1) { pixels.append((y, x)) }
                }
                guard !pixels.isEmpty else { continue }
                for y in 0..<height {
                    for x in 0..<width {
                        var best = Double.infinity
                        if spacing.y == spacing.x {
                            var n = Int.max
                            for (py, px) in pixels { n = min(n, (y - py) * (y - py) + (x - px) * (x - px)) }
                            best = Double(n) * sy2
                        } else {
                            for (py, px) in pixels {
                                let dy = Double(y - py), dx = Double(x - px)
                                best = min(best, sx2 * dx * dx + sy2 * dy * dy)
                            }
                        }
                        result[((b * classes + k) * height + y) * width + x] = best
                    }
                }
            }
        }
        return result
    }
}

/// Distance in units in the last place between two non-negative floats (0 when equal, infinities
/// included; UInt32.max when one is NaN).
func ulpDistance(_ a: Float, _ b: Float) -> UInt32 {
    if a == b { return 0 }
    if a.isNaN || b.isNaN || a.sign != b.sign { return .max }
    let d = Int64(a.bitPattern) - Int64(b.bitPattern)
    return UInt32(min(abs(d), Int64(UInt32.max)))
}

/// The largest ulp distance between two arrays, with its index.
func maxUlpDistance(_ a: [Float], _ b: [Float]) -> (ulps: UInt32, index: Int) {
    precondition(a.count == b.count)
    var worst = (ulps: UInt32(0), index: -1)
    for i in a.indices {
        let d = ulpDistance(a[i], b[i])
        if d > worst.ulps { worst = (d, i) }
    }
    return worst
}

@Suite("Distance transform: exact per-class EDT")
struct DistanceTransformTests {
    static let sizes: [(Int, Int)] = [
        (1, 1), (1, 2), (2, 1), (1, 31), (31, 1), (2, 2), (3, 5), (7, 13), (13, 7), (17, 19), (29, 31),
        (37, 61), (61, 37), (64, 64),
    ]

    static var randomCases: [LabelMaps] {
        sizes.enumerated().map { i, size in
            LabelMaps.random(batch: 2, height: size.0, width: size.1, classes: 3,
                             density: [0.02, 0.15, 0.4][i % 3], seed: UInt64(100 + i))
        }
    }

    /// Checks both backends against brute force: squared distances equal the oracle rounded to
    /// float (exactly at sy = sx, within `squaredUlps` otherwise), distances within 2 ulp of it.
    static func checkAgainstBruteForce(_ maps: LabelMaps, spacing: PixelSpacing = .unit, squaredUlps: UInt32 = 0,
                                       engines: [Engine]) throws {
        let oracle = maps.bruteForceSquared(spacing: spacing)
        let squared = oracle.map { Float($0) }
        let distances = oracle.map { Float($0.squareRoot()) }
        for engine in engines {
            let onSquared = try maps.transform(on: engine, spacing: spacing, squared: true)
            let onDistances = try maps.transform(on: engine, spacing: spacing, squared: false)
            let (ulps, index) = maxUlpDistance(onSquared, squared)
            #expect(ulps <= squaredUlps,
                    "\(engine.backend) \(maps.testDescription) spacing \(spacing): squared \(ulps) ulp at \(index): \(index >= 0 ? onSquared[index] : 0) vs \(index >= 0 ? squared[index] : 0)")
            let (dulps, dindex) = maxUlpDistance(onDistances, distances)
            #expect(dulps <= 2,
                    "\(engine.backend) \(maps.testDescription) spacing \(spacing): distance \(dulps) ulp at \(dindex): \(dindex >= 0 ? onDistances[dindex] : 0) vs \(dindex >= 0 ? distances[dindex] : 0)")
        }
    }

    static func engines() throws -> [Engine] { [try Engines.device(), try Engines.reference()] }

    @Test("Equals brute force on random masks with ignore pixels", arguments: randomCases)
    func randomMasks(maps: LabelMaps) throws {
        try Self.checkAgainstBruteForce(maps, engines: try Self.engines())
    }

    @Test("Prime, 1×N and N×1 sizes", arguments: [(1, 97), (97, 1), (53, 59), (2, 61), (61, 2)])
    func primeAndThinSizes(height: Int, width: Int) throws {
        let maps = LabelMaps.random(batch: 3, height: height, width: width, classes: 2, density: 0.05,
                                    seed: UInt64(height * 1000 + width))
        try Self.checkAgainstBruteForce(maps, engines: try Self.engines())
    }

    /// One class pixel (or none) per column and class, at a height drawn per column, or on a
    /// diagonal: along a row the columns' heights g then jump at random or step by a fixed slope,
    /// which makes the row pass pop often, tie on integer breakpoints and keep parabolas lowest on
    /// no pixel — the cases the lane build (8 rows at once, breakpoints over the reals) and its
    /// compression to integer starts must get exactly right. 2·2·67 rows: whole 8-row groups and a
    /// partial one (built one row at a time). 301 × 9: heights up to 300 in 9 columns put most
    /// breakpoints hundreds of pixels outside the row.
    @Test("Rows built as vector lanes: one class pixel per column at random or diagonal heights",
          arguments: [(0, 67, 101), (1, 67, 101), (2, 67, 101), (3, 67, 101), (5, 67, 101), (0, 301, 9)])
    func laneBuild(slope: Int, height: Int, width: Int) throws {
        var maps = LabelMaps(batch: 2, height: height, width: width, classes: 2)
        var random = SplitMix64(seed: UInt64(40 + slope))
        for b in 0..<2 {
            for x in 0..<width {
                for k in 1...2 where Double.random(in: 0..<1, using: &random) < 0.8 {
                    let y = slope == 0 ? Int.random(in: 0..<height, using: &random) : (x * slope + 17 * k) % height
                    maps[b, y, x] = UInt8(k)
                }
            }
        }
        try Self.checkAgainstBruteForce(maps, engines: try Self.engines())
    }

    @Test("Anisotropic spacing", arguments: [
        PixelSpacing(y: 2, x: 0.5), PixelSpacing(y: 1, x: 3), PixelSpacing(y: 0.7, x: 1.3),
        PixelSpacing(y: 3.9, x: 0.11), PixelSpacing(y: 0.25, x: 0.25), PixelSpacing(y: 1.7, x: 1.7),
    ])
    func anisotropic(spacing: PixelSpacing) throws {
        for (i, size) in [(31, 29), (64, 64), (1, 40), (40, 1)].enumerated() {
            let maps = LabelMaps.random(batch: 2, height: size.0, width: size.1, classes: 3, density: 0.03,
                                        seed: UInt64(7 + i))
            // Spacings whose squares are exact (powers of two, small integers) stay exact; others
            // round sy², sx², the products and the sum once each in float.
            let exact = [Float(0.25), 0.5, 1, 2, 3].contains(spacing.y) && [Float(0.25), 0.5, 1, 2, 3].contains(spacing.x)
            try Self.checkAgainstBruteForce(maps, spacing: spacing, squaredUlps: exact ? 0 : 2,
                                            engines: try Self.engines())
        }
    }

    @Test("All background, all ignore: every class is absent, +∞ everywhere")
    func absentEverywhere() throws {
        for engine in try Self.engines() {
            for fill in [UInt8(0), 255] {
                let maps = LabelMaps(batch: 2, height: 9, width: 11, classes: 4, fill: fill)
                for squared in [false, true] {
                    let out = try maps.transform(on: engine, squared: squared)
                    #expect(out.count == 2 * 4 * 9 * 11 && out.allSatisfy { $0 == .infinity })
                }
            }
        }
    }

    @Test("All one class: 0 on that class, +∞ on the others")
    func allOneClass() throws {
        for engine in try Self.engines() {
            let maps = LabelMaps(batch: 1, height: 13, width: 7, classes: 3, fill: 2)
            let out = try maps.transform(on: engine, squared: false)
            let plane = 13 * 7
            #expect(out[0..<plane].allSatisfy { $0 == .infinity })
            #expect(out[plane..<2 * plane].allSatisfy { $0 == 0 })
            #expect(out[2 * plane..<3 * plane].allSatisfy { $0 == .infinity })
        }
    }

    @Test("A single class pixel in each corner", arguments: [(1, 1), (5, 8), (64, 33)])
    func corners(height: Int, width: Int) throws {
        for (cy, cx) in [(0, 0), (0, width - 1), (height - 1, 0), (height - 1, width - 1)] {
            var maps = LabelMaps(batch: 1, height: height, width: width, classes: 1)
            maps[0, cy, cx] = 1
            try Self.checkAgainstBruteForce(maps, engines: try Self.engines())
            let out = try maps.transform(on: Engines.device(), squared: true)
            for y in 0..<height {
                for x in 0..<width {
                    #expect(out[y * width + x] == Float((y - cy) * (y - cy) + (x - cx) * (x - cx)))
                }
            }
        }
    }

    @Test("Ignore pixels are ground truth of no class")
    func ignorePixels() throws {
        // Class 1 at the left edge, a wall of ignore pixels in the middle, class 2 nowhere.
        var maps = LabelMaps(batch: 1, height: 6, width: 10, classes: 2)
        for y in 0..<6 {
            maps[0, y, 0] = 1
            maps[0, y, 5] = 255
        }
        for engine in try Self.engines() {
            let out = try maps.transform(on: engine, squared: false)
            for y in 0..<6 {
                for x in 0..<10 { #expect(out[y * 10 + x] == Float(x)) }
            }
            #expect(out[60..<120].allSatisfy { $0 == .infinity })
        }
        try Self.checkAgainstBruteForce(LabelMaps.random(batch: 2, height: 30, width: 30, classes: 2, density: 0.05,
                                                         ignore: 0.6, seed: 5), engines: try Self.engines())
    }

    @Test("Int32 labels give the same results as UInt8 labels")
    func int32Labels() throws {
        let maps = LabelMaps.random(batch: 2, height: 23, width: 41, classes: 5, seed: 11)
        let wide = maps.labels.map(Int32.init)
        for engine in try Self.engines() {
            let narrow = try maps.transform(on: engine, squared: false)
            let fromWide = try engine.distanceTransform(labels: wide, batch: 2, height: 23, width: 41, classes: 5)
            #expect(narrow == fromWide)
        }
    }

    @Test("OpenCL equals the CPU reference: squared exactly, distances within 2 ulp",
          arguments: [nil, 64] as [Int?], DistanceTransformRoutine.Layout.allCases)
    func deviceMatchesReference(workGroupSize: Int?, layout: DistanceTransformRoutine.Layout) throws {
        let engine = try Engines.device(workGroupSize: workGroupSize)
        guard case .openCL(let context) = engine.backend else { return }
        let routine = try DistanceTransformRoutine(context: context, configuration: engine.configuration, layout: layout)
        // Wider than local memory holds for one work-group's rows (9000 columns), a tall thin
        // map, a prime size, and blob-like maps with large empty stretches.
        let cases = [
            LabelMaps.random(batch: 2, height: 3, width: 9000, classes: 2, density: 0.001, seed: 1),
            LabelMaps.random(batch: 1, height: 5000, width: 3, classes: 2, density: 0.002, seed: 2),
            LabelMaps.random(batch: 3, height: 257, width: 131, classes: 4, density: 0.01, seed: 3),
            LabelMaps.blobs(batch: 2, height: 200, width: 300, classes: 5, seed: 4),
        ]
        for maps in cases {
            for spacing in [PixelSpacing.unit, PixelSpacing(y: 0.8, x: 0.8), PixelSpacing(y: 1.5, x: 0.6)] {
                for squared in [true, false] {
                    let problem = try DistanceTransformProblem(labelCount: maps.labels.count, batch: maps.batch,
                                                               height: maps.height, width: maps.width,
                                                               classes: maps.classes, spacing: spacing, squared: squared)
                    let device = try routine.evaluate(DistanceTransformInput(problem: problem, labels: maps.labels))
                    let reference = try maps.reference(spacing: spacing, squared: squared)
                    let (ulps, index) = maxUlpDistance(device, reference)
                    // Unit spacing: both exact integers, one rounding; sy = sx ≠ 1 and sy ≠ sx:
                    // sy², the product and the sum each round once in float.
                    let allowed: UInt32 = squared ? (spacing == .unit ? 0 : 3) : 2
                    #expect(ulps <= allowed,
                            "\(layout) \(maps.testDescription) spacing \(spacing) squared \(squared): \(ulps) ulp at \(index): \(index >= 0 ? device[index] : 0) vs \(index >= 0 ? reference[index] : 0)")
                }
            }
        }
    }

    @Test("Squared distances beyond 2^24 are correctly rounded (4096 × 4096 would be 2·4095²)")
    func beyondFloatIntegers() throws {
        // A 1 × 6000 row with its only class pixel at x = 0: d² = x² reaches 3.6e7 > 2^24.
        var maps = LabelMaps(batch: 1, height: 1, width: 6000, classes: 1)
        maps[0, 0, 0] = 1
        for engine in try Self.engines() {
            let out = try maps.transform(on: engine, squared: true)
            for x in 0..<6000 { #expect(out[x] == Float(x * x), "x = \(x)") }
            let distances = try maps.transform(on: engine, squared: false)
            for x in 0..<6000 { #expect(distances[x] == Float(x), "x = \(x)") }
        }
    }

    @Test("4096 × 4096 with one class pixel in a corner: every squared distance exact, both layouts",
          arguments: DistanceTransformRoutine.Layout.allCases)
    func largest(layout: DistanceTransformRoutine.Layout) throws {
        let side = 4096
        let engine = try Engines.device()
        guard case .openCL(let context) = engine.backend else { return }
        let routine = try DistanceTransformRoutine(context: context, configuration: engine.configuration, layout: layout)
        var labels = [UInt8](repeating: 0, count: side * side)
        labels[0] = 1
        labels[side * side - 1] = 255
        let problem = try DistanceTransformProblem(labelCount: labels.count, batch: 1, height: side, width: side,
                                                   classes: 1, spacing: .unit, squared: true)
        let out = try routine.evaluate(DistanceTransformInput(problem: problem, labels: labels))
        // d² = y² + x² up to 2·4095² ≈ 3.4e7 > 2^24: the float is the correctly rounded integer.
        var wrong = 0
        out.withUnsafeBufferPointer { out in
            for y in 0..<side {
                for x in 0..<side where out[y * side + x] != Float(y * y + x * x) { wrong += 1 }
            }
        }
        #expect(wrong == 0)
    }

    @Test("Invalid arguments name the argument and the offending label", arguments: [0, 1])
    func invalidArguments(backend: Int) throws {
        let engine = backend == 0 ? try Engines.device() : try Engines.reference()
        var maps = LabelMaps.random(batch: 2, height: 5, width: 7, classes: 3, seed: 1)
        maps[1, 3, 4] = 4
        maps[1, 4, 6] = 200
        #expect(throws: InvalidArgument("labels", index: [1, 3, 4],
                                        "is 4; labels are 0 (background), 1…3 (classes) or 255 (ignore)")) {
            try maps.transform(on: engine, squared: false)
        }
        var wide = LabelMaps.random(batch: 2, height: 5, width: 7, classes: 3, seed: 1).labels.map(Int32.init)
        wide[9] = -1
        #expect(throws: InvalidArgument("labels", index: [0, 1, 2],
                                        "is -1; labels are 0 (background), 1…3 (classes) or 255 (ignore)")) {
            try engine.distanceTransform(labels: wide, batch: 2, height: 5, width: 7, classes: 3)
        }
        wide[9] = 255 + 256   // would alias 255 if narrowed without a check
        #expect(throws: InvalidArgument.self) {
            try engine.distanceTransform(labels: wide, batch: 2, height: 5, width: 7, classes: 3)
        }
        let ok = [UInt8](repeating: 0, count: 70)
        #expect(throws: InvalidArgument("height", "must be at least 1, got 0")) {
            try engine.distanceTransform(labels: [UInt8](), batch: 2, height: 0, width: 7, classes: 3)
        }
        #expect(throws: InvalidArgument("labels", "has 70 elements; batch × height × width = 72")) {
            try engine.distanceTransform(labels: ok, batch: 2, height: 6, width: 6, classes: 3)
        }
        #expect(throws: InvalidArgument("classes", "must be in 1…254 (255 is the ignore label), got 0")) {
            try engine.distanceTransform(labels: ok, batch: 2, height: 5, width: 7, classes: 0)
        }
        #expect(throws: InvalidArgument("width", "must be at most 32768, got 40000")) {
            try engine.distanceTransform(labels: ok, batch: 1, height: 1, width: 40000, classes: 1)
        }
        for bad in [Float.nan, 0, -1, .infinity, 1e-13] {
            #expect(throws: InvalidArgument.self) {
                try engine.distanceTransform(labels: ok, batch: 2, height: 5, width: 7, classes: 3,
                                             spacing: PixelSpacing(y: 1, x: bad))
            }
        }
    }

    @Test("The benchmark's blob maps are the ones tools/bench_distance_baselines.py draws")
    func blobsMatchBaselineScript() {
        // `python3 tools/bench_distance_baselines.py --hash B H W` prints these FNV-1a fingerprints.
        func fnv1a(_ bytes: [UInt8]) -> UInt64 {
            bytes.reduce(0xCBF2_9CE4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
        }
        #expect(fnv1a(DistanceTransformDescriptor.blobLabels(batch: 1, height: 48, width: 64, classes: 5, seed: 48))
                == 0xfe0c_a685_32c7_f6e7)
        #expect(fnv1a(DistanceTransformDescriptor.blobLabels(batch: 2, height: 200, width: 300, classes: 5, seed: 200))
                == 0x5e62_f6a0_0c54_ee9e)
    }

    @Test("Bitwise repeatable")
    func repeatable() throws {
        let engine = try Engines.device()
        let maps = LabelMaps.blobs(batch: 2, height: 128, width: 96, classes: 5, seed: 9)
        let first = try maps.transform(on: engine, spacing: PixelSpacing(y: 0.9, x: 1.1), squared: false)
        for _ in 0..<2 {
            #expect(try maps.transform(on: engine, spacing: PixelSpacing(y: 0.9, x: 1.1), squared: false) == first)
        }
    }
}
