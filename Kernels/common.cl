// Device helpers shared by every REG program (prepended to each kernel file at build time).
// Full-precision exp/log only: REG never builds with -cl-fast-relaxed-math, so results stay within
// the tolerances of docs/math.md §7 on every vendor.

#ifndef REG_COMMON_CL
#define REG_COMMON_CL

// Test hook: -DREG_FAIL_BUILD=1 fails every program, =2 only the focal variants that read
// distances, with one compiler error that says so (the fallback tests use it: a real syntax error
// would print thousands of lines into the test log).
// Label maps: 0 background, 1…C class, 255 ignore (LabelMap in Swift).
#define REG_IGNORE_LABEL 255u

#if defined(REG_FAIL_BUILD) && REG_FAIL_BUILD == 1
#error "REG_FAIL_BUILD=1: this build fails on purpose, for a fallback test"
#endif

// σ(t) without overflow for any t, including ±INFINITY: exp is only taken of −|t|.
inline float reg_sigmoid(float t) {
    float e = exp(-fabs(t));
    return t >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

// softplus(t) = log(1 + e^t) without overflow; equals t to float precision for large t.
inline float reg_softplus(float t) {
    return fmax(t, 0.0f) + log1p(exp(-fabs(t)));
}

#endif
