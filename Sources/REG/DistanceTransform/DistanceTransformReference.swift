import Dispatch

/// The CPU reference of the distance transform: the same separable algorithm as the device, in
/// integers and float64, written independently of it (Meijster's formulation of the row pass, which
/// compares values where the device compares breakpoints). The oracle for the device at sizes brute
/// force cannot reach, and the engine's fallback. Planes (b, k) run in parallel.
///
/// Squared distances are exact: integers Δy² + Δx² at unit spacing, (Δy² + Δx²)·s² in float64 when
/// sy = sx = s, and sy²Δy² + sx²Δx² with a float64 envelope when sy ≠ sx.
public enum DistanceTransformReference {
    /// Squared distances `[B, C, H, W]` in float64 (`+∞` for a class absent from an image).
    /// Same arguments and errors as `Engine.distanceTransform`.
    public static func squaredDistances<Label: DistanceTransformLabel>(
        labels: [Label], batch: Int, height: Int, width: Int, classes: Int, spacing: PixelSpacing = .unit
    ) throws(InvalidArgument) -> [Double] {
        let problem = try DistanceTransformProblem(labelCount: labels.count, batch: batch, height: height,
                                                   width: width, classes: classes, spacing: spacing,
                                                   squared: true)
        let bytes = try problem.bytes(labels, validate: true)
        return transform(bytes, problem) { $0 }
    }

    /// `Engine.distanceTransform` on the CPU: the float64 results rounded once to float (distances
    /// are √ of the exact float64 squared distance).
    public static func distanceTransform<Label: DistanceTransformLabel>(
        labels: [Label], batch: Int, height: Int, width: Int, classes: Int,
        spacing: PixelSpacing = .unit, squared: Bool = false
    ) throws(InvalidArgument) -> [Float] {
        let problem = try DistanceTransformProblem(labelCount: labels.count, batch: batch, height: height,
                                                   width: width, classes: classes, spacing: spacing,
                                                   squared: squared)
        return try distanceTransform(labels: labels, problem)
    }

    static func distanceTransform<Label: DistanceTransformLabel>(labels: [Label], _ problem: DistanceTransformProblem)
        throws(InvalidArgument) -> [Float] {
        let bytes = try problem.bytes(labels, validate: true)
        if problem.squared {
            return transform(bytes, problem) { Float($0) }
        }
        return transform(bytes, problem) { Float($0.squareRoot()) }
    }

    /// Runs every plane (b, k) and stores `convert(d²)` at [b, k, y, x].
    static func transform<T: BitwiseCopyable>(_ labels: [UInt8], _ problem: DistanceTransformProblem,
                                              _ convert: @escaping @Sendable (Double) -> T) -> [T] {
        let planes = problem.batch * problem.classes
        let plane = problem.pixelsPerImage
        return [T](unsafeUninitializedCapacity: problem.outputCount) { output, initialized in
            let base = UnsafeSendablePointer(output.baseAddress!)
            labels.withUnsafeBufferPointer { labelBuffer in
                let labelBase = UnsafeSendablePointer(UnsafeMutablePointer(mutating: labelBuffer.baseAddress!))
                DispatchQueue.concurrentPerform(iterations: planes) { p in
                    let b = p / problem.classes, k = p % problem.classes
                    transformPlane(labels: UnsafePointer(labelBase.pointer + b * plane), label: UInt8(k + 1),
                                   problem, output: base.pointer + p * plane, convert)
                }
            }
            initialized = problem.outputCount
        }
    }

    /// Column sentinel: no pixel of the class in this column.
    private static let none = Int32.max / 4

    private static func transformPlane<T>(labels: UnsafePointer<UInt8>, label: UInt8, _ problem: DistanceTransformProblem,
                                          output: UnsafeMutablePointer<T>, _ convert: (Double) -> T) {
        let height = problem.height, width = problem.width
        // Phase 1: g(y, x) = distance along y to the nearest class pixel of column x, in integers,
        // swept row by row (inner loops over x, contiguous).
        var g = [Int32](repeating: none, count: height * width)
        g.withUnsafeMutableBufferPointer { g in
            for x in 0..<width { g[x] = labels[x] == label ? 0 : none }
            for y in 1..<max(height, 1) {
                let row = y * width, above = row - width
                for x in 0..<width {
                    g[row + x] = labels[row + x] == label ? 0 : min(g[above + x] &+ 1, none)
                }
            }
            for y in stride(from: height - 2, through: 0, by: -1) {
                let row = y * width, below = row + width
                for x in 0..<width { g[row + x] = min(g[row + x], g[below + x] &+ 1) }
            }
        }
        // Phase 2: along each row, the lower envelope of the parabolas of the columns with a class pixel.
        var columns = [Int](repeating: 0, count: width)
        if problem.isotropic {
            let scale = Double(problem.spacing.y) * Double(problem.spacing.y)
            var starts = [Int](repeating: 0, count: width)
            for y in 0..<height {
                let row = y * width
                rowIsotropic(g: g, row: row, width: width, columns: &columns, starts: &starts) { x, n in
                    output[row + x] = convert(n < 0 ? .infinity : Double(n) * scale)
                }
            }
        } else {
            let sy2 = Double(problem.spacing.y) * Double(problem.spacing.y)
            let sx2 = Double(problem.spacing.x) * Double(problem.spacing.x)
            var boundaries = [Double](repeating: 0, count: width + 1)
            for y in 0..<height {
                let row = y * width
                rowAnisotropic(g: g, row: row, width: width, sy2: sy2, sx2: sx2, columns: &columns,
                               boundaries: &boundaries) { x, d2 in output[row + x] = convert(d2) }
            }
        }
    }

    /// Meijster's row pass in integers: d²(x) = min over columns u of (x − u)² + g(u)², emitted as
    /// an exact integer, or −1 when the row has no class column.
    private static func rowIsotropic(g: [Int32], row: Int, width: Int, columns s: inout [Int], starts t: inout [Int],
                                     emit: (Int, Int) -> Void) {
        func f(_ x: Int, _ u: Int) -> Int {
            let gu = Int(g[row + u])
            return (x - u) * (x - u) + gu * gu
        }
        var q = -1
        for u in 0..<width where g[row + u] < none {
            while q >= 0 && f(t[q], s[q]) > f(t[q], u) { q -= 1 }
            if q < 0 {
                q = 0
                s[0] = u
                t[0] = 0
            } else {
                let i = s[q]
                let gi = Int(g[row + i]), gu = Int(g[row + u])
                let separation = floorDivide(u * u - i * i + gu * gu - gi * gi, 2 * (u - i))
                let w = separation + 1
                if w < width {
                    q += 1
                    s[q] = u
                    t[q] = w
                }
            }
        }
        if q < 0 {
            for x in 0..<width { emit(x, -1) }
            return
        }
        for x in stride(from: width - 1, through: 0, by: -1) {
            emit(x, f(x, s[q]))
            if x == t[q] { q -= 1 }
        }
    }

    /// Felzenszwalb–Huttenlocher's row pass in float64 for sy ≠ sx: parabolas sx²(x − u)² + sy²g(u)².
    private static func rowAnisotropic(g: [Int32], row: Int, width: Int, sy2: Double, sx2: Double,
                                       columns v: inout [Int], boundaries z: inout [Double],
                                       emit: (Int, Double) -> Void) {
        func height(_ u: Int) -> Double {
            let gu = Double(g[row + u])
            return sy2 * gu * gu
        }
        var k = -1
        for q in 0..<width where g[row + q] < none {
            if k < 0 {
                k = 0
                v[0] = q
                z[0] = -.infinity
                z[1] = .infinity
                continue
            }
            var s = 0.0
            while true {
                let p = v[k]
                s = ((height(q) - height(p)) / sx2 + Double(q * q - p * p)) / Double(2 * (q - p))
                if s <= z[k] { k -= 1 } else { break }
            }
            k += 1
            v[k] = q
            z[k] = s
            z[k + 1] = .infinity
        }
        if k < 0 {
            for x in 0..<width { emit(x, .infinity) }
            return
        }
        k = 0
        for x in 0..<width {
            while z[k + 1] < Double(x) { k += 1 }
            let dx = Double(x - v[k])
            emit(x, sx2 * dx * dx + height(v[k]))
        }
    }

    /// ⌊a / b⌋ for b > 0.
    @inline(__always)
    static func floorDivide(_ a: Int, _ b: Int) -> Int {
        a >= 0 ? a / b : -((b - 1 - a) / b)
    }
}

/// A raw pointer handed to concurrentPerform's iterations, each of which writes a disjoint range.
struct UnsafeSendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
