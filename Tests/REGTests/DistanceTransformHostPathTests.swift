import Testing
import REGRuntime
@testable import REG
import REGDiagnostics

/// FNV-1a over the bit patterns of a result: one number that changes when any bit does.
func fingerprint(_ values: [Float]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for value in values {
        hash ^= UInt64(value.bitPattern)
        hash &*= 0x0000_0100_0000_01b3
    }
    return hash
}

/// The distance transform's results are the same bits as before the host path and the row pass
/// were reworked (workspace kept between calls, read-back into prefaulted memory, rows walked four
/// at a time with select steps), on every layout and work-group size; the workspace is reused,
/// never shared, and a smaller problem in a larger workspace reads back only its own maps.
@Suite("Distance transform: host path and row pass")
struct DistanceTransformHostPathTests {
    /// Odd sizes (B·C·H not a multiple of the 4 rows a work-item walks together), a class absent
    /// from every image (+∞ maps), classes absent from some images, a width of 1, a single row.
    static let cases: [(name: String, maps: LabelMaps)] = {
        var sparse = LabelMaps.random(batch: 3, height: 37, width: 53, classes: 4, density: 0.01, seed: 7)
        sparse.classes = 5   // class 5 never drawn: its maps are +∞ everywhere
        return [
            ("sparse 3×37×53, class 5 absent", sparse),
            ("random 2×29×31, C = 3", LabelMaps.random(batch: 2, height: 29, width: 31, classes: 3, density: 0.2, seed: 8)),
            ("blobs 2×61×97, C = 5", LabelMaps.blobs(batch: 2, height: 61, width: 97, classes: 5, seed: 9)),
            ("one row 1×1×1009", LabelMaps.random(batch: 1, height: 1, width: 1009, classes: 2, density: 0.003, seed: 10)),
            ("one column 5×127×1", LabelMaps.random(batch: 5, height: 127, width: 1, classes: 2, density: 0.02, seed: 11)),
        ]
    }()

    static let options: [(spacing: PixelSpacing, squared: Bool)] = [
        (.unit, true), (.unit, false), (PixelSpacing(y: 0.7, x: 0.7), false), (PixelSpacing(y: 1.3, x: 0.45), true),
        (PixelSpacing(y: 1.3, x: 0.45), false),
    ]

    /// The fingerprints the kernels and routine as of commit 6eafb15 (before this rework) give, in the
    /// order of `cases` × `options`; every layout and work-group size gave these same values then.
    static let before: [UInt64] = [
        0x37a12d58608d4b27, 0x1e12b1c73b188813, 0x910f4d6cc76005f6, 0xfab510d5dcd226ee, 0x5ad56b7dd83bbe96,
        0xc7a352c13e52672d, 0x65cb752e427ef7a, 0xbd84ba34ab8087ce, 0xf8e34b48184908aa, 0xae47c37052e8dbec,
        0x434d8a64e68d426d, 0x4ec025fe1cb257ba, 0xc45a4e181f8fb11, 0xddd8c11c9ad6cb5f, 0x5cf336be9357fba9,
        0x19e129e82b07cecd, 0xd12d398215d6596d, 0xf125a2b2e3d1a428, 0xfc54c753ea3fe352, 0xb8b6fa1d20ce1eab,
        0xbb99546a9484b9fd, 0x11d4a5ba8260fdfd, 0x436d47f0daf2914f, 0x47f8b0486c98060e, 0x7ba7f0b2abeba3d2,
    ]

    @Test("Same bits as before the rework, on both layouts at work-group sizes 1, 3, 64 and the default")
    func sameBitsAsBefore() throws {
        var fingerprints: [UInt64] = []
        for (name, maps) in Self.cases {
            for (spacing, squared) in Self.options {
                let problem = try DistanceTransformProblem(labelCount: maps.labels.count, batch: maps.batch,
                                                           height: maps.height, width: maps.width, classes: maps.classes,
                                                           spacing: spacing, squared: squared)
                let input = DistanceTransformInput(problem: problem, labels: maps.labels)
                var seen: Set<UInt64> = []
                for workGroupSize in [nil, 1, 3, 64] as [Int?] {
                    let engine = try Engines.device(workGroupSize: workGroupSize)
                    guard case .openCL(let context) = engine.backend else { return }
                    seen.insert(fingerprint(try maps.transform(on: engine, spacing: spacing, squared: squared)))
                    for layout in DistanceTransformRoutine.Layout.allCases {
                        let routine = try DistanceTransformRoutine(context: context, configuration: engine.configuration,
                                                                   layout: layout)
                        seen.insert(fingerprint(try routine.evaluate(input)))
                    }
                }
                #expect(seen.count == 1, "\(name), spacing \(spacing), squared \(squared): \(seen.count) different results")
                fingerprints.append(seen.first ?? 0)
            }
        }
        #expect(fingerprints == Self.before,
                "now: \(fingerprints.map { "0x" + String($0, radix: 16) }.joined(separator: ", "))")
    }

    static func input(_ maps: LabelMaps, spacing: PixelSpacing = .unit, squared: Bool) throws -> DistanceTransformInput {
        let problem = try DistanceTransformProblem(labelCount: maps.labels.count, batch: maps.batch, height: maps.height,
                                                   width: maps.width, classes: maps.classes, spacing: spacing,
                                                   squared: squared)
        return DistanceTransformInput(problem: problem, labels: maps.labels)
    }

    @Test("Rows walked four at a time: groups that mix planes, empty rows and a short last group",
          arguments: [nil, 1, 3] as [Int?], DistanceTransformRoutine.Layout.allCases)
    func rowGroups(workGroupSize: Int?, layout: DistanceTransformRoutine.Layout) throws {
        let engine = try Engines.device(workGroupSize: workGroupSize)
        guard case .openCL(let context) = engine.backend else { return }
        let routine = try DistanceTransformRoutine(context: context, configuration: engine.configuration, layout: layout)
        // Planes of 2 or 3 rows: every group of four rows spans two or three planes, some of them
        // of a class the image lacks (rows with no class pixel), and B·C·H is not a multiple of 4.
        for (height, seed) in [(2, 21), (3, 22)] as [(Int, UInt64)] {
            var maps = LabelMaps(batch: 3, height: height, width: 11, classes: 3)
            var random = SplitMix64(seed: seed)
            for b in 0..<3 {
                for y in 0..<height {
                    for x in 0..<11 where Double.random(in: 0..<1, using: &random) < 0.2 {
                        maps[b, y, x] = UInt8(1 + (b + x) % 2)   // classes 1 and 2 only; class 3 absent
                    }
                }
            }
            maps[1, 0, 0] = 3                                    // ... except in image 1
            let oracle = maps.bruteForceSquared()
            let squared = try routine.evaluate(try Self.input(maps, squared: true))
            #expect(squared.map(Double.init) == oracle, "height \(height)")
            let distances = try routine.evaluate(try Self.input(maps, squared: false))
            #expect(distances == oracle.map { Float($0.squareRoot()) }, "height \(height)")
        }
    }

    @Test("Column strips: whole rows when the planes fill the compute units, else even strips")
    func columnStrips() {
        #expect(DistanceTransformRoutine.stripColumns(width: 512, planes: 40, computeUnits: 2) == 512)
        #expect(DistanceTransformRoutine.stripColumns(width: 2048, planes: 8, computeUnits: 2) == 2048)
        #expect(DistanceTransformRoutine.stripColumns(width: 512, planes: 1, computeUnits: 2) == 64)
        #expect(DistanceTransformRoutine.stripColumns(width: 4096, planes: 3, computeUnits: 16) == 192)
        #expect(DistanceTransformRoutine.stripColumns(width: 100, planes: 1, computeUnits: 8) == 112)
        for width in 1...300 {
            for planes in 1...12 {
                for units in [1, 2, 3, 8, 64] {
                    let strip = DistanceTransformRoutine.stripColumns(width: width, planes: planes, computeUnits: units)
                    let strips = (width + strip - 1) / strip
                    // Multiples of 16, no empty strip, no strip narrower than 64 columns unless the
                    // row is, and whole rows once the planes alone give 4 work-items per unit.
                    #expect(strip % 16 == 0 && strip >= 16 && (strips - 1) * strip < width,
                            "width \(width), planes \(planes), units \(units): strip \(strip)")
                    #expect(strips == 1 || width / strips >= 64 - 15)
                    if planes >= 4 * units { #expect(strips == 1) }
                }
            }
        }
    }

    @Test("Same-size calls allocate the workspace once and give the same bits every time")
    func workspaceKept() throws {
        let engine = try Engines.device()
        guard case .openCL(let context) = engine.backend else { return }
        let maps = LabelMaps.blobs(batch: 2, height: 61, width: 97, classes: 5, seed: 9)
        let routine = try DistanceTransformRoutine(context: context, configuration: engine.configuration)
        let input = try Self.input(maps, squared: false)
        let first = try routine.evaluate(input)
        for _ in 0..<3 { #expect(fingerprint(try routine.evaluate(input)) == fingerprint(first)) }
        #expect(routine.workspaceAllocations == 1)
        #expect(first == (try maps.reference(squared: false)))

        // Through the engine: its cached routine keeps one workspace across calls.
        for _ in 0..<3 { #expect(fingerprint(try maps.transform(on: engine, squared: false)) == fingerprint(first)) }
        #expect(engine.cachedRoutine(DistanceTransformRoutine.self)?.workspaceAllocations == 1)
    }

    @Test("A smaller problem in a kept larger workspace reads back only its own maps; a much smaller or a larger one reallocates")
    func workspaceSizes() throws {
        let engine = try Engines.device()
        guard case .openCL(let context) = engine.backend else { return }
        let routine = try DistanceTransformRoutine(context: context, configuration: engine.configuration)
        let large = LabelMaps.blobs(batch: 2, height: 61, width: 97, classes: 5, seed: 9)
        let half = LabelMaps.random(batch: 1, height: 61, width: 97, classes: 5, density: 0.01, seed: 12)
        let tiny = LabelMaps.random(batch: 1, height: 5, width: 7, classes: 2, density: 0.3, seed: 13)
        let steps: [(LabelMaps, Int)] = [(large, 1), (half, 1), (tiny, 2), (half, 3), (large, 4), (large, 4)]
        for (maps, allocations) in steps {
            let out = try routine.evaluate(try Self.input(maps, squared: true))
            #expect(out.count == maps.batch * maps.classes * maps.height * maps.width)
            #expect(out == (try maps.reference(squared: true)), "\(maps.testDescription)")
            #expect(routine.workspaceAllocations == allocations, "\(maps.testDescription)")
        }
    }

    @Test("Two evaluations alive at once hold separate workspaces")
    func separateWorkspaces() throws {
        let engine = try Engines.device()
        guard case .openCL(let context) = engine.backend else { return }
        let routine = try DistanceTransformRoutine(context: context, configuration: engine.configuration)
        let a = LabelMaps.random(batch: 2, height: 19, width: 23, classes: 3, density: 0.05, seed: 14)
        let b = LabelMaps.random(batch: 2, height: 19, width: 23, classes: 3, density: 0.05, seed: 15)
        let first = try routine.prepare(try Self.input(a, squared: true))
        let second = try routine.prepare(try Self.input(b, squared: true))
        #expect(first.workspace !== second.workspace)
        _ = try routine.enqueue(first)
        _ = try routine.enqueue(second)
        #expect(try routine.results(first) == (try a.reference(squared: true)))
        #expect(try routine.results(second) == (try b.reference(squared: true)))
    }

    @Test("An invalid label in a kept workspace is reported, and the next call is right")
    func invalidLabelThenValid() throws {
        let engine = try Engines.device()
        let good = LabelMaps.random(batch: 2, height: 9, width: 13, classes: 3, seed: 16)
        var bad = good
        bad[1, 4, 5] = 9
        let before = try good.transform(on: engine, squared: true)
        #expect(throws: InvalidArgument("labels", index: [1, 4, 5],
                                        "is 9; labels are 0 (background), 1…3 (classes) or 255 (ignore)")) {
            try bad.transform(on: engine, squared: true)
        }
        #expect(try good.transform(on: engine, squared: true) == before)
        #expect(before == (try good.reference(squared: true)))
    }

    @Test("HostMemory.prepareForOverwrite leaves the contents as they were, at any size and alignment")
    func prepareForOverwriteKeepsContents() {
        for count in [0, 1, 1000, (4 << 20) / 4 - 1, (4 << 20) / 4 + 3, 3 << 20] {
            var values = (0..<count).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) }
            let copy = values
            values.withUnsafeMutableBytes { HostMemory.prepareForOverwrite($0) }
            values.withUnsafeMutableBytes { bytes in
                guard bytes.count > 1 else { return }
                HostMemory.prepareForOverwrite(UnsafeMutableRawBufferPointer(rebasing: bytes[1...]))
            }
            #expect(values == copy, "\(count) elements")
        }
    }
}
