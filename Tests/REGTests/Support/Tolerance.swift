/// The accuracy contract of docs/math.md §7, as checks that report the worst element.
enum Tolerance {
    /// Largest |device − reference| and its index.
    static func maxAbsoluteError(_ device: [Float], _ reference: [Double]) -> (error: Double, index: Int) {
        precondition(device.count == reference.count)
        var worst = (error: 0.0, index: -1)
        for i in device.indices {
            let d = Double(device[i]), r = reference[i]
            let e = (d == r) ? 0 : abs(d - r)   // equal infinities count as exact
            if e > worst.error || e.isNaN { worst = (e.isNaN ? .infinity : e, i) }
        }
        return worst
    }
}
