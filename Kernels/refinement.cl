// Spatial-contextual refinement (docs/math.md §2): g = σ(β · (d − δ)), elementwise.
//
// Stable for every β and δ and for d = ±∞: β = 0 gives exactly 0.5 (no 0·∞), an infinite d gives
// g = 1 or 0 by the signs of β and d, and huge finite |β(d − δ)| saturates without overflow.

inline float reg_refinement(float d, float beta, float delta) {
    float t;
    if (beta == 0.0f) {
        t = 0.0f;
    } else if (isinf(d)) {
        t = ((beta > 0.0f) == (d > 0.0f)) ? INFINITY : -INFINITY;
    } else {
        t = beta * (d - delta);
    }
    return reg_sigmoid(t);
}

// One work-item per element (the host rounds the launch up to whole work-groups). A NaN distance
// sets *nan_found (every writer stores the same 1, so the result does not depend on order); the
// host then reports the first NaN's index.
__kernel void refine(__global const float *restrict distances,
                     __global float *restrict weights,
                     const ulong count,
                     const float beta,
                     const float delta,
                     __global int *nan_found) {
    size_t i = get_global_id(0);
    if (i < count) {
        float d = distances[i];
        if (isnan(d)) *nan_found = 1;
        weights[i] = isnan(d) ? 0.0f : reg_refinement(d, beta, delta);
    }
}
