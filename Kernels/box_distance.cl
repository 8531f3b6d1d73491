// Point-to-box distances for detection (docs/distance-maps.md).
//
// For every sample point n and class c: the Euclidean distance from the point to the nearest
// ground-truth box of class c + 1 in the point's image (0 inside or on a box), +∞ when that image
// has no box of that class. The host sorts the boxes by (image group, class) and passes CSR
// offsets, so each work-item loops only over the boxes of its point's image and its class.
//
// Distance to a box [x1, y1, x2, y2]: dx = max(x1 − x, 0, x − x2), dy likewise, d = √(dx² + dy²).
// The minimum is taken over squared distances (one rounding each, no overflow: the host keeps
// coordinates within ±1e18) and the square root is taken once at the end.

// Global size: a multiple of the work-group size; grid-stride over count·classes outputs, laid
// out [N, C] so that consecutive work-items write consecutive floats.
// points: [N] float2 (x, y); group: [N] the point's image group (−1: its image has no box);
// boxes: [M] float4 (x1, y1, x2, y2) sorted by (group, class); offsets: [G·C + 1].
__kernel void box_distance(__global const float2 *restrict points,
                           __global const int *restrict group,
                           __global const float4 *restrict boxes,
                           __global const int *restrict offsets,
                           const ulong count,
                           const int classes,
                           __global float *restrict distances) {
    const ulong total = count * (ulong)classes;
    for (size_t i = get_global_id(0); i < total; i += get_global_size(0)) {
        const size_t n = i / (size_t)classes;
        const int c = (int)(i - n * (size_t)classes);
        const int gr = group[n];
        float best = INFINITY;
        if (gr >= 0) {
            const float2 p = points[n];
            const size_t key = (size_t)gr * (size_t)classes + (size_t)c;
            const int begin = offsets[key];
            const int end = offsets[key + 1];
            for (int j = begin; j < end; ++j) {
                const float4 b = boxes[j];
                const float dx = fmax(fmax(b.x - p.x, 0.0f), p.x - b.z);
                const float dy = fmax(fmax(b.y - p.y, 0.0f), p.y - b.w);
                best = fmin(best, dx * dx + dy * dy);
            }
        }
        distances[i] = sqrt(best);
    }
}
