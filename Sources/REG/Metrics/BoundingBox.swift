/// An axis-aligned box `[x1, y1, x2, y2]` in continuous image coordinates (x1 ≤ x2, y1 ≤ y2).
///
/// COCO's area convention: coordinates are continuous, so the area is `(x2 − x1)·(y2 − y1)` with
/// no `+1` for pixel counts, as pycocotools computes box areas (`w·h`) and box IoU. A box of zero
/// width or height has area 0 and IoU 0 with every box.
public struct BoundingBox: MetricRegion, Equatable {
    public var x1: Double
    public var y1: Double
    public var x2: Double
    public var y2: Double

    public init(x1: Double, y1: Double, x2: Double, y2: Double) {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
    }

    /// `(x2 − x1)·(y2 − y1)`.
    public var area: Double { (x2 - x1) * (y2 - y1) }

    /// The area both boxes cover: 0 unless the overlap has a positive width and height.
    public static func intersection(_ a: BoundingBox, _ b: BoundingBox) -> Double {
        let width = min(a.x2, b.x2) - max(a.x1, b.x1)
        let height = min(a.y2, b.y2) - max(a.y1, b.y1)
        return width > 0 && height > 0 ? width * height : 0
    }

    /// `|a ∩ b| / (|a| + |b| − |a ∩ b|)`, 0 when the boxes do not overlap with a positive area.
    public static func intersectionOverUnion(_ a: BoundingBox, _ b: BoundingBox) -> Double {
        let overlap = intersection(a, b)
        guard overlap > 0 else { return 0 }
        return overlap / (a.area + b.area - overlap)
    }

    public var invalidReason: String? {
        for (name, value) in [("x1", x1), ("y1", y1), ("x2", x2), ("y2", y2)] where !value.isFinite {
            return "\(name) must be finite, got \(value)"
        }
        if x2 < x1 { return "x2 = \(x2) is less than x1 = \(x1)" }
        if y2 < y1 { return "y2 = \(y2) is less than y1 = \(y1)" }
        return nil
    }
}
