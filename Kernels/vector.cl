// Vector width plumbing for the element kernels (docs/focal-loss.md, "Kernel variants").
//
// VECTOR_WIDTH = 1 gives scalar work-items (GPUs: neighbouring work-items read neighbouring
// addresses); 2, 4, 8 or 16 gives work-items that each take that many consecutive elements as one
// OpenCL vector (CPU devices: PoCL vectorises the device's own exp/log/erf on vector types, while
// its implicit vectoriser across work-items gives up on kernels of this size). The same source
// serves both: `realv` is float or floatN, `intv` int or intN, and masks are used only through
// ternaries and REG_ANY, which read scalar (1/0) and vector (−1/0) comparisons alike.

#ifndef VECTOR_WIDTH
#define VECTOR_WIDTH 1
#endif

#define REG_CAT_(a, b) a##b
#define REG_CAT(a, b) REG_CAT_(a, b)

#if VECTOR_WIDTH == 1
#define realv float
#define intv int
#define uintv uint
#define REG_ANY(mask) ((mask) != 0)
#define REG_LANES 0u
#define convert_uintv_uchar(x) ((uint)(x))
#elif VECTOR_WIDTH == 2 || VECTOR_WIDTH == 4 || VECTOR_WIDTH == 8 || VECTOR_WIDTH == 16
#define realv REG_CAT(float, VECTOR_WIDTH)
#define intv REG_CAT(int, VECTOR_WIDTH)
#define uintv REG_CAT(uint, VECTOR_WIDTH)
#define REG_ANY(mask) any(mask)
#define as_uintv REG_CAT(as_uint, VECTOR_WIDTH)
#define convert_uintv_uchar(x) REG_CAT(convert_uint, VECTOR_WIDTH)(x)
#define REG_VLOAD REG_CAT(vload, VECTOR_WIDTH)
#define REG_VSTORE REG_CAT(vstore, VECTOR_WIDTH)
#define REG_VLOAD_HALF REG_CAT(vload_half, VECTOR_WIDTH)
#define REG_VSTORE_HALF REG_CAT(REG_CAT(vstore_half, VECTOR_WIDTH), _rte)
#if VECTOR_WIDTH == 2
#define REG_LANES ((uint2)(0, 1))
#elif VECTOR_WIDTH == 4
#define REG_LANES ((uint4)(0, 1, 2, 3))
#elif VECTOR_WIDTH == 8
#define REG_LANES ((uint8)(0, 1, 2, 3, 4, 5, 6, 7))
#else
#define REG_LANES ((uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#endif
#else
#error "VECTOR_WIDTH must be 1, 2, 4, 8 or 16"
#endif

#define REG_V(x) ((realv)(x))
// The all-true mask.
#if VECTOR_WIDTH == 1
#define REG_TRUE 1
#else
#define REG_TRUE ((intv)(-1))
#endif

// Loads and stores of VECTOR_WIDTH consecutive elements from element `first`; lanes at or past
// `end` read as 0 and are not written (only a row's last vector is partial).
inline realv reg_load_f32(__global const float *p, ulong first, ulong end) {
#if VECTOR_WIDTH == 1
    return p[first];
#else
    if (first + VECTOR_WIDTH <= end) return REG_VLOAD(0, p + first);
    float lanes[VECTOR_WIDTH];
    for (uint j = 0; j < VECTOR_WIDTH; ++j) lanes[j] = first + j < end ? p[first + j] : 0.0f;
    return REG_VLOAD(0, lanes);
#endif
}

inline realv reg_load_f16(__global const half *p, ulong first, ulong end) {
#if VECTOR_WIDTH == 1
    return vload_half(first, p);
#else
    if (first + VECTOR_WIDTH <= end) return REG_VLOAD_HALF(0, p + first);
    float lanes[VECTOR_WIDTH];
    for (uint j = 0; j < VECTOR_WIDTH; ++j) lanes[j] = first + j < end ? vload_half(first + j, p) : 0.0f;
    return REG_VLOAD(0, lanes);
#endif
}

inline uintv reg_load_labels(__global const uchar *p, ulong first, ulong end) {
#if VECTOR_WIDTH == 1
    return p[first];
#else
    if (first + VECTOR_WIDTH <= end) return convert_uintv_uchar(REG_VLOAD(0, p + first));
    uchar lanes[VECTOR_WIDTH];
    for (uint j = 0; j < VECTOR_WIDTH; ++j) lanes[j] = first + j < end ? p[first + j] : (uchar)0;
    return convert_uintv_uchar(REG_VLOAD(0, lanes));
#endif
}

inline void reg_store_f32(realv x, __global float *p, ulong first, ulong end) {
#if VECTOR_WIDTH == 1
    p[first] = x;
#else
    if (first + VECTOR_WIDTH <= end) {
        REG_VSTORE(x, 0, p + first);
        return;
    }
    float lanes[VECTOR_WIDTH];
    REG_VSTORE(x, 0, lanes);
    for (uint j = 0; j < VECTOR_WIDTH; ++j) {
        if (first + j < end) p[first + j] = lanes[j];
    }
#endif
}

// Rounds to nearest even, so that a float16 gradient is the float32 one correctly rounded.
inline void reg_store_f16(realv x, __global half *p, ulong first, ulong end) {
#if VECTOR_WIDTH == 1
    vstore_half_rte(x, first, p);
#else
    if (first + VECTOR_WIDTH <= end) {
        REG_VSTORE_HALF(x, 0, p + first);
        return;
    }
    float lanes[VECTOR_WIDTH];
    REG_VSTORE(x, 0, lanes);
    for (uint j = 0; j < VECTOR_WIDTH; ++j) {
        if (first + j < end) vstore_half_rte(lanes[j], first + j, p);
    }
#endif
}

// Element types: -DHALF_LOGITS=1 / -DHALF_TARGETS=1 read IEEE float16 with vload_half (core
// OpenCL, no cl_khr_fp16 needed); arithmetic stays float32. -DHALF_GRADIENT=1 writes the gradients
// (∂L/∂logits, ∂L/∂σ) as float16, rounded to nearest even.
#if HALF_LOGITS
#define logits_t half
#define reg_load_logits reg_load_f16
#else
#define logits_t float
#define reg_load_logits reg_load_f32
#endif
#if HALF_TARGETS
#define targets_t half
#define reg_load_targets reg_load_f16
#define reg_target(p, i) vload_half((i), (p))
#else
#define targets_t float
#define reg_load_targets reg_load_f32
#define reg_target(p, i) ((p)[i])
#endif
#if HALF_GRADIENT
#define gradient_t half
#define reg_store_gradient reg_store_f16
#else
#define gradient_t float
#define reg_store_gradient reg_store_f32
#endif
