/// A binary instance mask of `height × width` pixels, stored as bits (64 pixels a word, row-major),
/// so that the IoU of two masks is a count of pixels by population counts.
public struct InstanceMask: MetricRegion, Equatable {
    public let height: Int
    public let width: Int
    /// The number of pixels in the mask.
    public let area: Int
    /// Pixel `y·width + x` is bit `i % 64` of word `i / 64`; the bits past the last pixel are 0.
    private let words: [UInt64]

    /// A mask from `height·width` pixels in row-major order (true: in the mask).
    public init(height: Int, width: Int, pixels: some Collection<Bool>) throws(InvalidArgument) {
        guard height >= 0, width >= 0, !height.multipliedReportingOverflow(by: width).overflow else {
            throw InvalidArgument("mask", "size \(height)×\(width) is not a valid mask size")
        }
        guard pixels.count == height * width else {
            throw InvalidArgument("mask", "has \(pixels.count) pixels; \(height)×\(width) needs \(height * width)")
        }
        var words = [UInt64](repeating: 0, count: (height * width + 63) / 64)
        var area = 0
        for (i, pixel) in pixels.enumerated() where pixel {
            words[i >> 6] |= 1 << UInt64(i & 63)
            area += 1
        }
        self.height = height
        self.width = width
        self.area = area
        self.words = words
    }

    /// Whether pixel (y, x) is in the mask.
    public subscript(y: Int, x: Int) -> Bool {
        precondition((0..<height).contains(y) && (0..<width).contains(x), "pixel (\(y), \(x)) outside \(height)×\(width)")
        let i = y * width + x
        return words[i >> 6] >> UInt64(i & 63) & 1 == 1
    }

    /// The number of pixels in both masks (of the same size).
    public static func intersection(_ a: InstanceMask, _ b: InstanceMask) -> Int {
        precondition(a.height == b.height && a.width == b.width, "masks of different sizes")
        var count = 0
        for i in a.words.indices { count += (a.words[i] & b.words[i]).nonzeroBitCount }
        return count
    }

    /// Pixels in both over pixels in either, 0 when both masks are empty.
    public static func intersectionOverUnion(_ a: InstanceMask, _ b: InstanceMask) -> Double {
        let overlap = intersection(a, b)
        let union = a.area + b.area - overlap
        return union == 0 ? 0 : Double(overlap) / Double(union)
    }

    public var invalidReason: String? { nil }

    public func mismatch(with other: InstanceMask) -> String? {
        height == other.height && width == other.width
            ? nil : "mask is \(height)×\(width) but another mask of the same image is \(other.height)×\(other.width)"
    }
}
