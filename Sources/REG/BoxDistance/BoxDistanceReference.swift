/// The float64 CPU reference of the point-to-box distances: the oracle for tests and the fallback.
/// Boxes are grouped by (image, class) in a dictionary, so each point visits only its image's boxes.
public enum BoxDistanceReference {
    /// The distance from (x, y) to the box: 0 inside or on an edge, else √(dx² + dy²) with
    /// dx = max(x1 − x, 0, x − x2) and dy likewise, in float64.
    public static func distance(x: Double, y: Double, to box: GroundTruthBox) -> Double {
        let dx = max(Double(box.x1) - x, 0, x - Double(box.x2))
        let dy = max(Double(box.y1) - y, 0, y - Double(box.y2))
        return (dx * dx + dy * dy).squareRoot()
    }

    /// `[N, C]` distances in float64. Same arguments and errors as `Engine.boxDistances`.
    public static func distances(points: [SamplePoint], boxes: [GroundTruthBox], classes: Int)
        throws(InvalidArgument) -> [Double] {
        distances(try BoxDistanceProblem(points: points, boxes: boxes, classes: classes))
    }

    static func distances(_ problem: BoxDistanceProblem) -> [Double] {
        struct Key: Hashable {
            let image: Int
            let classID: Int
        }
        var byKey: [Key: [GroundTruthBox]] = [:]
        for box in problem.boxes { byKey[Key(image: box.image, classID: box.classID), default: []].append(box) }
        let classes = problem.classes
        var result = [Double](repeating: .infinity, count: problem.outputCount)
        for (n, point) in problem.points.enumerated() {
            let x = Double(point.x), y = Double(point.y)
            for c in 0..<classes {
                guard let boxes = byKey[Key(image: point.image, classID: c + 1)] else { continue }
                var best = Double.infinity
                for box in boxes { best = min(best, distance(x: x, y: y, to: box)) }
                result[n * classes + c] = best
            }
        }
        return result
    }
}
