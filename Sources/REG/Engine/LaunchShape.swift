/// Launch sizes for the kernels' grid-stride loops.
enum LaunchShape {
    /// Enough work-groups to cover `count` elements once, capped at 2^16 groups (the grid-stride
    /// loop covers the rest); always a multiple of `workGroupSize`, never zero.
    static func gridStride(count: Int, workGroupSize: Int) -> Int {
        let groups = min(max((count + workGroupSize - 1) / workGroupSize, 1), 1 << 16)
        return groups * workGroupSize
    }
}
