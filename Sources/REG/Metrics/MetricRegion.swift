/// A region a prediction or a ground truth covers in an image: a ``BoundingBox`` or an
/// ``InstanceMask``. The metrics need only the IoU of two regions and a check of each.
public protocol MetricRegion: Sendable {
    /// Intersection over union of `a` and `b`, in [0, 1]; 0 when they do not overlap, and when
    /// their union is empty. Only called on two regions that ``mismatch(with:)`` accepts.
    static func intersectionOverUnion(_ a: Self, _ b: Self) -> Double

    /// Why this region cannot be evaluated (a non-finite coordinate, x2 < x1), or nil.
    var invalidReason: String? { get }

    /// Why this region cannot be compared with `other` of the same image (masks of different
    /// sizes), or nil.
    func mismatch(with other: Self) -> String?
}

extension MetricRegion {
    public func mismatch(with other: Self) -> String? { nil }
}
