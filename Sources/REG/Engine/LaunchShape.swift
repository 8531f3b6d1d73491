/// Global launch sizes for 1-D kernels.
enum LaunchShape {
    /// One work-item per element: `count` rounded up to a multiple of `workGroupSize` (never zero).
    /// Preferred for elementwise kernels: GPUs schedule the groups freely, and CPU devices (PoCL)
    /// vectorise across work-items only when each work-item has straight-line work — a
    /// grid-stride loop there measured 3.5× slower for the refinement.
    static func covering(count: Int, workGroupSize: Int) -> Int {
        max((count + workGroupSize - 1) / workGroupSize, 1) * workGroupSize
    }

    /// Enough work-groups to cover `count` elements once, capped at 2^16 groups (the kernel's
    /// grid-stride loop covers the rest); always a multiple of `workGroupSize`, never zero.
    /// For kernels whose work-items must each visit several elements (e.g. to accumulate).
    static func gridStride(count: Int, workGroupSize: Int) -> Int {
        let groups = min(max((count + workGroupSize - 1) / workGroupSize, 1), 1 << 16)
        return groups * workGroupSize
    }
}
