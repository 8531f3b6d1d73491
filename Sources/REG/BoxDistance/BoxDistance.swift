/// A sample point of a detector (an anchor point, a location on a feature map) in image pixels.
public struct SamplePoint: Sendable, Equatable {
    /// Index of the image in the batch (≥ 0).
    public var image: Int
    public var x: Float
    public var y: Float

    public init(image: Int, x: Float, y: Float) {
        self.image = image
        self.x = x
        self.y = y
    }
}

/// A ground-truth box `[x1, y1, x2, y2]` (x1 ≤ x2, y1 ≤ y2) of class `classID` (1…C) in an image.
public struct GroundTruthBox: Sendable, Equatable {
    public var image: Int
    public var classID: Int
    public var x1: Float
    public var y1: Float
    public var x2: Float
    public var y2: Float

    public init(image: Int, classID: Int, x1: Float, y1: Float, x2: Float, y2: Float) {
        self.image = image
        self.classID = classID
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
    }
}

/// A validated point-to-box request.
package struct BoxDistanceProblem: Sendable {
    /// Largest |coordinate|: keeps every squared distance a finite float (dx, dy ≤ 2e18).
    static let coordinateLimit: Float = 1e18
    /// Largest output (N·C floats).
    static let maximumOutput = 1 << 36

    package let points: [SamplePoint]
    package let boxes: [GroundTruthBox]
    package let classes: Int

    package var outputCount: Int { points.count * classes }

    package init(points: [SamplePoint], boxes: [GroundTruthBox], classes: Int) throws(InvalidArgument) {
        guard classes >= 1 else { throw InvalidArgument("classes", "must be at least 1, got \(classes)") }
        let (output, overflow) = points.count.multipliedReportingOverflow(by: classes)
        guard !overflow, output <= Self.maximumOutput else {
            throw InvalidArgument("points", "N·C = \(points.count)·\(classes) is over the limit of 2^36 distances")
        }
        guard boxes.count <= Int(Int32.max) else {
            throw InvalidArgument("boxes", "has \(boxes.count) boxes; at most \(Int32.max)")
        }
        for (i, point) in points.enumerated() {
            guard point.image >= 0 else {
                throw InvalidArgument("points", index: [i], "has image \(point.image); image indices are ≥ 0")
            }
            guard Self.isCoordinate(point.x), Self.isCoordinate(point.y) else {
                throw InvalidArgument("points", index: [i],
                                      "has (x, y) = (\(point.x), \(point.y)); coordinates must be finite, |v| ≤ 1e18")
            }
        }
        for (i, box) in boxes.enumerated() {
            guard box.image >= 0 else {
                throw InvalidArgument("boxes", index: [i], "has image \(box.image); image indices are ≥ 0")
            }
            guard (1...classes).contains(box.classID) else {
                throw InvalidArgument("boxes", index: [i], "has class \(box.classID); classes are 1…\(classes)")
            }
            guard [box.x1, box.y1, box.x2, box.y2].allSatisfy(Self.isCoordinate) else {
                throw InvalidArgument("boxes", index: [i],
                                      "is [\(box.x1), \(box.y1), \(box.x2), \(box.y2)]; coordinates must be finite, |v| ≤ 1e18")
            }
            guard box.x1 <= box.x2, box.y1 <= box.y2 else {
                throw InvalidArgument("boxes", index: [i],
                                      "is degenerate: [\(box.x1), \(box.y1), \(box.x2), \(box.y2)] needs x1 ≤ x2 and y1 ≤ y2")
            }
        }
        self.points = points
        self.boxes = boxes
        self.classes = classes
    }

    private static func isCoordinate(_ v: Float) -> Bool { v.isFinite && abs(v) <= coordinateLimit }

    /// The device's layout: boxes sorted by (image group, class) with CSR offsets.
    ///
    /// Images that hold boxes are numbered 0…G−1 in order of first appearance (the groups); a
    /// point whose image holds no box gets group −1. `offsets[g·C + c] ..< offsets[g·C + c + 1]`
    /// are the sorted boxes of group g and class c + 1 (a counting sort: stable, O(M + G·C)).
    struct Grouped {
        var pointXY: [Float]         // [N, 2]
        var pointGroup: [Int32]      // [N]
        var boxCorners: [Float]      // [M, 4] sorted
        var offsets: [Int32]         // [G·C + 1]
    }

    func grouped() -> Grouped {
        var groupOfImage: [Int: Int] = [:]
        var boxGroup = [Int](repeating: 0, count: boxes.count)
        for (i, box) in boxes.enumerated() {
            if let g = groupOfImage[box.image] {
                boxGroup[i] = g
            } else {
                boxGroup[i] = groupOfImage.count
                groupOfImage[box.image] = groupOfImage.count
            }
        }
        let keys = groupOfImage.count * classes
        var offsets = [Int32](repeating: 0, count: keys + 1)
        for (i, box) in boxes.enumerated() { offsets[boxGroup[i] * classes + box.classID - 1 + 1] += 1 }
        for k in 0..<keys { offsets[k + 1] += offsets[k] }
        var next = offsets
        var corners = [Float](repeating: 0, count: 4 * boxes.count)
        for (i, box) in boxes.enumerated() {
            let key = boxGroup[i] * classes + box.classID - 1
            let slot = Int(next[key])
            next[key] += 1
            corners[4 * slot] = box.x1
            corners[4 * slot + 1] = box.y1
            corners[4 * slot + 2] = box.x2
            corners[4 * slot + 3] = box.y2
        }
        var xy = [Float](repeating: 0, count: 2 * points.count)
        var pointGroup = [Int32](repeating: -1, count: points.count)
        for (n, point) in points.enumerated() {
            xy[2 * n] = point.x
            xy[2 * n + 1] = point.y
            if let g = groupOfImage[point.image] { pointGroup[n] = Int32(g) }
        }
        return Grouped(pointXY: xy, pointGroup: pointGroup, boxCorners: corners, offsets: offsets)
    }
}

extension Engine {
    /// Distances from sample points to ground-truth boxes, per class, on the engine's device.
    ///
    /// - Returns: `[N, C]`: for point n and class c + 1, the Euclidean distance from the point to
    ///   the nearest box of that class in the point's image (0 inside a box or on its edge), `+∞`
    ///   when the image has no box of that class. Zero points give `[]`; zero boxes give `+∞`.
    /// - Throws: `InvalidArgument` naming `boxes[i]` for a degenerate box (x2 < x1 or y2 < y1), a
    ///   class outside 1…C, a negative image index or a non-finite coordinate, and `points[n]` for
    ///   a negative image index or a non-finite coordinate.
    public func boxDistances(points: [SamplePoint], boxes: [GroundTruthBox], classes: Int) throws -> [Float] {
        let problem = try BoxDistanceProblem(points: points, boxes: boxes, classes: classes)
        let output = problem.outputCount
        let inputs = MemoryNeeds.floats(3 * points.count + 4 * boxes.count)
        let memory = MemoryNeeds(hostBytes: MemoryNeeds.floats(output) + inputs,
                                 referenceHostBytes: MemoryNeeds.doubles(output) + MemoryNeeds.floats(output),
                                 deviceBytes: MemoryNeeds.floats(output) + inputs, largestBuffer: MemoryNeeds.floats(output),
                                 remedy: "use fewer points or classes per call")
        return try run("box-distance", on: BoxDistanceRoutine.self, problem, memory: memory) {
            BoxDistanceReference.distances(problem).map(Float.init)
        }.0
    }
}
